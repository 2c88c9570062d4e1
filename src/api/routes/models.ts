import Router from '@koa/router';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';

/** `GET /models`: OpenAI list shape; `simulator` plus configured models. */
export function modelsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();
  const created = Math.floor(Date.now() / 1000);
  route(router, { method: 'get', path: '/models', scope: 'chat' }, (ctx: ApiContext) => {
    ctx.body = {
      object: 'list',
      data: deps.models.listModels().map((id) => ({
        id,
        object: 'model',
        created,
        owned_by: id === 'simulator' ? 'reverie' : 'provider',
      })),
    };
  });
  return router;
}
