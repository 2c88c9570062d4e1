import Router from '@koa/router';
import { z } from 'zod';
import { hybridSearch, SEARCH_TYPES } from '../../search/hybrid-search';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { callerUserId } from '../identity';
import { parseInput } from '../validation';

const SearchQuery = z.object({
  q: z.string().trim().min(1).max(2000),
  types: z
    .string()
    .default(SEARCH_TYPES.join(','))
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.enum(SEARCH_TYPES)).min(1)),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  user_id: z.string().trim().min(1).max(256).optional(),
});

/** `GET /search`: hybrid search over chunks, memories, moments and messages. */
export function searchRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();
  route(
    router,
    { method: 'get', path: '/search', scope: 'files', query: SearchQuery },
    async (ctx: ApiContext) => {
      const q = parseInput(SearchQuery, ctx.query, 'query');
      const started = performance.now();
      const hits = await hybridSearch(deps.pool, deps.embedder, {
        tenantId: ctx.state.principal.tenantId,
        userId: callerUserId(ctx, { user_id: q.user_id }),
        q: q.q,
        types: q.types,
        limit: q.limit,
      });
      ctx.body = {
        object: 'list',
        query: q.q,
        data: hits,
        took_ms: Math.round(performance.now() - started),
      };
    },
  );
  return router;
}
