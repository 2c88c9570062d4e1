import Router from '@koa/router';
import { z } from 'zod';
import { getRun, listRuns, FINISHED_STATUSES } from '../../db/runs';
import { NotFoundError, TimeoutError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { pathId, resumeCursor, uuidParam } from '../identity';
import { messageJson, runJson } from '../render/run-json';
import { nativeFrame, pipeRunEvents } from '../render/run-stream';
import { waitForRun } from './chat-completions';
import { cursor, keysetPage, parseInput } from '../validation';
import { getMessage } from '../../db/messages';

const ListQuery = z.object({
  session_id: z.string().uuid().optional(),
  kind: z.enum(['turn', 'ingest', 'dream', 'memory']).optional(),
  status: z
    .enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'])
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

const WaitQuery = z.object({ timeout: z.coerce.number().min(0).max(600).default(60) });

/** Runs: get, list, wait, cancel, and the resumable event stream. */
export function runsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/runs' });

  const loadRun = async (ctx: ApiContext) => {
    const run = await getRun(
      deps.pool,
      ctx.state.principal.tenantId,
      uuidParam(pathId(ctx), 'run id'),
    );
    if (!run) throw new NotFoundError('run');
    return run;
  };

  route(
    router,
    { method: 'get', path: '/', scope: 'chat', query: ListQuery },
    async (ctx: ApiContext) => {
      const q = parseInput(ListQuery, ctx.query, 'query');
      const rows = await listRuns(deps.pool, ctx.state.principal.tenantId, {
        sessionId: q.session_id,
        kind: q.kind,
        status: q.status,
        limit: q.limit + 1,
        before: cursor.decode(q.cursor),
      });
      ctx.body = keysetPage(rows, q.limit, (r) => runJson(r, deps.config), cursor.encode);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    ctx.body = runJson(await loadRun(ctx), deps.config);
  });

  route(
    router,
    { method: 'get', path: '/:id/wait', scope: 'chat', query: WaitQuery },
    async (ctx: ApiContext) => {
      const { timeout } = parseInput(WaitQuery, ctx.query, 'query');
      const run = await loadRun(ctx);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeout * 1000);
      try {
        // A run finished before the wait is answered the same way: with its message.
        const finished = FINISHED_STATUSES.includes(run.status)
          ? run
          : await waitForRun(deps, run, controller.signal);
        if (!FINISHED_STATUSES.includes(finished.status))
          throw new TimeoutError(`run not finished after ${timeout}s`);
        const message = finished.message_id
          ? await getMessage(deps.pool, finished.tenant_id, finished.message_id)
          : undefined;
        ctx.body = {
          ...runJson(finished, deps.config),
          message: message ? messageJson(message) : null,
        };
      } finally {
        clearTimeout(timer);
      }
    },
  );

  route(router, { method: 'post', path: '/:id/cancel', scope: 'chat' }, async (ctx: ApiContext) => {
    const run = await loadRun(ctx);
    if (!FINISHED_STATUSES.includes(run.status)) await deps.turns.cancel(run, 'cancelled');
    ctx.status = 202;
    ctx.body = runJson(run, deps.config);
  });

  route(
    router,
    { method: 'get', path: '/:id/events', scope: 'chat', sse: true },
    async (ctx: ApiContext) => {
      const run = await loadRun(ctx);
      const after = resumeCursor(ctx);
      const preamble =
        after === undefined
          ? []
          : [
              {
                event: 'run.state',
                data: JSON.stringify({
                  status: run.status,
                  session_id: run.session_id,
                  message_id: run.message_id,
                  model: run.model,
                  last_seq: run.last_seq,
                }),
              },
            ];
      await pipeRunEvents(ctx, deps, {
        run,
        afterSeq: after ?? 0,
        headers: {
          'X-Run-Id': run.id,
          ...(run.session_id ? { 'X-Session-Id': run.session_id } : {}),
        },
        preamble,
        render: (event) => [nativeFrame(event)],
      });
    },
  );

  return router;
}
