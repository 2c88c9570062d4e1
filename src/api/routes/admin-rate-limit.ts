import { isIP } from 'node:net';
import Router from '@koa/router';
import { z } from 'zod';
import { deleteBypass, insertBypass, listBypass, type BypassRow } from '../../db/rate-limit-bypass';
import { NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { pathId, uuidParam, Uuid } from '../identity';
import { route } from '../route-spec';
import { parseInput, requestBody } from '../validation';

function isCidr(value: string): boolean {
  const [net, bits, extra] = value.split('/');
  if (extra !== undefined || !net || !bits || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(net);
  return family !== 0 && Number(bits) <= (family === 6 ? 128 : 32);
}

const BypassBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('key'), value: Uuid }).strict(),
  z
    .object({
      type: z.literal('ip'),
      value: z.string().refine((v) => isIP(v) !== 0, 'not an IP address'),
    })
    .strict(),
  z
    .object({
      type: z.literal('cidr'),
      value: z.string().refine(isCidr, 'not a CIDR like 10.0.0.0/8'),
    })
    .strict(),
]);

function bypassJson(b: BypassRow) {
  return { id: b.id, type: b.type, value: b.value, created_at: b.created_at.toISOString() };
}

/** The rate-limit bypass list: key ids, IPs and CIDRs that are never limited. */
export function adminRateLimitRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/admin/rate-limit/bypass' });

  route(
    router,
    { method: 'post', path: '/', scope: 'admin', body: BypassBody, summary: 'Add a bypass entry' },
    async (ctx: ApiContext) => {
      const body = parseInput(BypassBody, requestBody(ctx), 'bypass entry');
      const row = await insertBypass(deps.pool, {
        type: body.type,
        value: body.value.toLowerCase(),
      });
      deps.limits.bypass.invalidate();
      ctx.status = 201;
      ctx.body = bypassJson(row);
    },
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'admin', summary: 'List bypass entries' },
    async (ctx: ApiContext) => {
      ctx.body = { object: 'list', data: (await listBypass(deps.pool)).map(bypassJson) };
    },
  );

  route(
    router,
    { method: 'delete', path: '/:id', scope: 'admin', summary: 'Remove a bypass entry' },
    async (ctx: ApiContext) => {
      const row = await deleteBypass(deps.pool, uuidParam(pathId(ctx), 'bypass id'));
      if (!row) throw new NotFoundError('bypass entry');
      deps.limits.bypass.invalidate();
      ctx.body = bypassJson(row);
    },
  );
  return router;
}
