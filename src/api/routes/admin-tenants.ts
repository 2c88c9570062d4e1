import Router from '@koa/router';
import { z } from 'zod';
import { TIERS } from '../../config';
import {
  getTenant,
  insertTenant,
  listTenants,
  newWebhookSecret,
  updateTenant,
  type TenantRow,
} from '../../db/tenants';
import { NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { pathId, uuidParam } from '../identity';
import { route } from '../route-spec';
import { cursor, keysetPage, parseInput, requestBody } from '../validation';

/** Tiers a tenant can be put on (`anonymous` is the anonymous caller's alone). */
const TenantTier = z.enum(TIERS.filter((t) => t !== 'anonymous') as ['free', 'pro', 'enterprise']);

const Limits = z
  .object({
    rps: z.number().positive().max(1_000_000).optional(),
    burst: z.number().int().positive().max(10_000_000).optional(),
    max_concurrent_turns: z.number().int().positive().max(10_000).optional(),
  })
  .strict();

const CreateBody = z
  .object({ name: z.string().trim().min(1).max(200), tier: TenantTier.optional() })
  .strict();

const PatchBody = z
  .object({
    tier: TenantTier.optional(),
    limits: Limits.optional(),
    webhook_url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .nullable()
      .optional(),
  })
  .strict();

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

function tenantJson(t: TenantRow) {
  return {
    id: t.id,
    object: 'tenant',
    name: t.name,
    tier: t.tier,
    limits: t.limits,
    webhook_url: t.webhook_url,
    webhook_secret: t.webhook_secret,
    created_at: t.created_at.toISOString(),
  };
}

/** Tenants with their tier, limits and webhook (API.md "Security and limits"). */
export function adminTenantsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/admin/tenants' });
  const tenantId = (ctx: ApiContext) => uuidParam(pathId(ctx), 'tenant id');

  route(
    router,
    { method: 'post', path: '/', scope: 'admin', body: CreateBody, summary: 'Create a tenant' },
    async (ctx: ApiContext) => {
      const body = parseInput(CreateBody, requestBody(ctx), 'tenant');
      ctx.status = 201;
      ctx.body = tenantJson(
        await insertTenant(deps.pool, { name: body.name, tier: body.tier ?? 'free' }),
      );
    },
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'admin', query: ListQuery, summary: 'List tenants' },
    async (ctx: ApiContext) => {
      const q = parseInput(ListQuery, ctx.query, 'query');
      const rows = await listTenants(deps.pool, {
        limit: q.limit + 1,
        before: cursor.decode(q.cursor),
      });
      ctx.body = keysetPage(rows, q.limit, tenantJson, cursor.encode);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'admin' }, async (ctx: ApiContext) => {
    const row = await getTenant(deps.pool, tenantId(ctx));
    if (!row) throw new NotFoundError('tenant');
    ctx.body = tenantJson(row);
  });

  route(
    router,
    { method: 'patch', path: '/:id', scope: 'admin', body: PatchBody, summary: 'Change a tenant' },
    async (ctx: ApiContext) => {
      const id = tenantId(ctx);
      const body = parseInput(PatchBody, requestBody(ctx) ?? {}, 'tenant update');
      const row = await updateTenant(deps.pool, id, body);
      if (!row) throw new NotFoundError('tenant');
      deps.auth.tenants.invalidate(id);
      ctx.body = tenantJson(row);
    },
  );

  route(
    router,
    {
      method: 'post',
      path: '/:id/webhook-secret',
      scope: 'admin',
      summary: 'Rotate the webhook secret',
    },
    async (ctx: ApiContext) => {
      const row = await updateTenant(deps.pool, tenantId(ctx), {
        webhook_secret: newWebhookSecret(),
      });
      if (!row) throw new NotFoundError('tenant');
      ctx.body = tenantJson(row);
    },
  );
  return router;
}
