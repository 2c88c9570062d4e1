import Router from '@koa/router';
import { z } from 'zod';
import { createApiKey, listApiKeys, revokeApiKey, SCOPES, type ApiKeyRow } from '../../db/api-keys';
import { getTenant } from '../../db/tenants';
import { NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { pathId, uuidParam, Uuid } from '../identity';
import { route } from '../route-spec';
import { cursor, keysetPage, parseInput, requestBody } from '../validation';

const CreateBody = z
  .object({
    tenant_id: Uuid,
    name: z.string().trim().min(1).max(200),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
    expires_at: z.iso
      .datetime({ offset: true })
      .refine((v) => Date.parse(v) > Date.now(), 'expires_at must be in the future')
      .nullable()
      .optional(),
  })
  .strict();

const ListQuery = z.object({
  tenant_id: Uuid.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** A key as listings show it: never the key or its hash. */
export function apiKeyJson(k: ApiKeyRow) {
  return {
    id: k.id,
    object: 'api_key',
    prefix: k.prefix,
    name: k.name,
    scopes: k.scopes,
    tenant_id: k.tenant_id,
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
    revoked_at: k.revoked_at?.toISOString() ?? null,
    expires_at: k.expires_at?.toISOString() ?? null,
  };
}

/** API keys (API.md "Security and limits"): create (shown once), list, revoke. */
export function adminApiKeysRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/admin/api-keys' });

  route(
    router,
    { method: 'post', path: '/', scope: 'admin', body: CreateBody, summary: 'Create an API key' },
    async (ctx: ApiContext) => {
      const body = parseInput(CreateBody, requestBody(ctx), 'API key');
      if (!(await getTenant(deps.pool, body.tenant_id))) throw new NotFoundError('tenant');
      const { key, row } = await createApiKey(deps.pool, body.tenant_id.toLowerCase(), {
        name: body.name,
        scopes: [...new Set(body.scopes)],
        expiresAt: body.expires_at ? new Date(body.expires_at) : null,
      });
      const { last_used_at: _u, revoked_at: _r, ...shown } = apiKeyJson(row);
      ctx.status = 201;
      ctx.body = { ...shown, key };
    },
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'admin', query: ListQuery, summary: 'List API keys' },
    async (ctx: ApiContext) => {
      const q = parseInput(ListQuery, ctx.query, 'query');
      const rows = await listApiKeys(deps.pool, {
        tenantId: q.tenant_id?.toLowerCase(),
        limit: q.limit + 1,
        before: cursor.decode(q.cursor),
      });
      ctx.body = keysetPage(rows, q.limit, apiKeyJson, cursor.encode);
    },
  );

  route(
    router,
    { method: 'delete', path: '/:id', scope: 'admin', summary: 'Revoke an API key' },
    async (ctx: ApiContext) => {
      const row = await revokeApiKey(deps.pool, uuidParam(pathId(ctx), 'API key id'));
      if (!row) throw new NotFoundError('API key');
      // This process need not wait for its own notification.
      deps.auth.keys.invalidate(row.id);
      ctx.body = apiKeyJson(row);
    },
  );
  return router;
}
