import Router from '@koa/router';
import type { ApiContext, ApiState } from '../context';
import { buildOpenApi } from '../openapi';
import { route, specsOf, type RouteSpec } from '../route-spec';

/** `GET /health` is answered by a middleware ahead of every router (see `liveness`). */
const LIVENESS: RouteSpec = {
  method: 'get',
  path: '/health',
  scope: 'public',
  summary: 'Liveness',
};

/**
 * `GET /openapi.json`: the document of the given routers (and of itself),
 * built on first request and kept.
 */
export function openapiRouter(v1: Router<ApiState>[], root: Router<ApiState>[]): Router<ApiState> {
  const router = new Router<ApiState>();
  let document: unknown;
  route(
    router,
    { method: 'get', path: '/openapi.json', scope: 'public', summary: 'This OpenAPI 3.1 document' },
    (ctx: ApiContext) => {
      document ??= buildOpenApi({
        v1: [router, ...v1].flatMap(specsOf),
        root: [LIVENESS, ...root.flatMap(specsOf)],
        version: '0.1.0',
      });
      ctx.body = document;
    },
  );
  return router;
}
