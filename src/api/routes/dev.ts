import Router from '@koa/router';
import { DEFAULT_TENANT_ID } from '../../config';
import { createApiKey, SCOPES } from '../../db/api-keys';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';

/** `GET /dev/token`: a development key for the default tenant (never in production). */
export function devRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();
  if (deps.config.production) return router;
  route(router, { method: 'get', path: '/dev/token', scope: 'public' }, async (ctx: ApiContext) => {
    const { id, key } = await createApiKey(deps.pool, DEFAULT_TENANT_ID, {
      name: 'dev token',
      scopes: SCOPES,
    });
    ctx.body = {
      object: 'api_key',
      id,
      key,
      tenant_id: DEFAULT_TENANT_ID,
      scopes: SCOPES,
    };
  });
  return router;
}
