import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import { getMessage } from '../../db/messages';
import { getRun } from '../../db/runs';
import { one } from '../../db/sql';
import { NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { callerUserId } from '../identity';
import { parseInput, requestBody } from '../validation';

const FeedbackBody = z
  .object({
    run_id: z.string().uuid().optional(),
    message_id: z.string().uuid().optional(),
    rating: z.union([z.literal(-1), z.literal(1)]),
    comment: z.string().max(10_000).optional(),
    user_id: z.string().min(1).max(256).optional(),
  })
  .strict()
  .refine((b) => b.run_id || b.message_id, { message: 'run_id or message_id is required' });

/** `POST /feedback`: a rating of a run or message, kept for evaluation. */
export function feedbackRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();
  route(
    router,
    { method: 'post', path: '/feedback', scope: 'chat', body: FeedbackBody },
    async (ctx: ApiContext) => {
      const body = parseInput(FeedbackBody, requestBody(ctx), 'feedback');
      const tenantId = ctx.state.principal.tenantId;
      let runId = body.run_id ?? null;
      if (body.message_id) {
        const message = await getMessage(deps.pool, tenantId, body.message_id);
        if (!message) throw new NotFoundError('message');
        runId ??= message.run_id;
      }
      if (body.run_id && !(await getRun(deps.pool, tenantId, body.run_id)))
        throw new NotFoundError('run');
      const row = await one<{ id: string; created_at: Date }>(
        deps.pool,
        `insert into feedback (id, tenant_id, run_id, message_id, user_id, rating, comment)
       values ($1, $2, $3, $4, $5, $6, $7) returning id, created_at`,
        [
          randomUUID(),
          tenantId,
          runId,
          body.message_id ?? null,
          callerUserId(ctx, body),
          body.rating,
          body.comment ?? null,
        ],
      );
      ctx.status = 201;
      ctx.body = {
        id: row.id,
        object: 'feedback',
        run_id: runId,
        message_id: body.message_id ?? null,
        rating: body.rating,
        comment: body.comment ?? null,
        created_at: row.created_at.toISOString(),
      };
    },
  );
  return router;
}
