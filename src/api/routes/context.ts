import Router from '@koa/router';
import { z } from 'zod';
import { listRuns } from '../../db/runs';
import { getSession } from '../../db/sessions';
import { NotFoundError } from '../../errors';
import { buildTurnContext } from '../../prompt/turn-context';
import { createDefaultTools } from '../../tools/default-tools';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { callerUserId, pathId, uuidParam } from '../identity';
import { parseInput } from '../validation';

const ContextQuery = z.object({
  /** Preview the turn this user message would start (it is not stored). */
  message: z.string().min(1).max(200_000).optional(),
  model: z.string().min(1).max(200).optional(),
  system: z.string().max(50_000).optional(),
  /** Include the messages array exactly as it would be sent. @default true */
  messages: z.enum(['true', 'false']).default('true'),
});

/**
 * `GET /v1/sessions/{id}/context`: exactly what the model would see next turn
 * — built by the same function the model activity calls — with the parts
 * (system prompt, recalled memories, profile, compressed history, tools) and
 * their token counts.
 */
export function contextRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/sessions' });
  // Definitions only: the API counts the tools' tokens, the worker runs them.
  const tools = createDefaultTools(deps.pool, deps.embedder);

  route(
    router,
    { method: 'get', path: '/:id/context', scope: 'chat', query: ContextQuery },
    async (ctx: ApiContext) => {
      const tenantId = ctx.state.principal.tenantId;
      const session = await getSession(deps.pool, tenantId, uuidParam(pathId(ctx), 'session id'));
      if (!session) throw new NotFoundError('session');
      const q = parseInput(ContextQuery, ctx.query, 'query');
      const [lastRun] = await listRuns(deps.pool, tenantId, {
        sessionId: session.id,
        kind: 'turn',
        limit: 1,
      });
      const requested = q.model && q.model !== 'default' ? q.model : undefined;
      const model = requested ?? lastRun?.model ?? deps.models.defaultModel;
      const userId = callerUserId(ctx) ?? lastRun?.user_id ?? session.user_id;
      const context = await buildTurnContext(
        { pool: deps.pool, config: deps.config, embedder: deps.embedder, log: ctx.state.log },
        {
          tenantId,
          sessionId: session.id,
          userId,
          model,
          turnSystem: q.system ? [q.system] : [],
          tools: tools.definitions(),
          pendingUserMessage: q.message,
        },
      );
      ctx.body = {
        object: 'session.context',
        session_id: session.id,
        user_id: userId,
        ...context,
        messages: q.messages === 'true' ? context.messages : undefined,
      };
    },
  );

  return router;
}
