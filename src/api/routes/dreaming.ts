import Router from '@koa/router';
import { z } from 'zod';
import { FINISHED_STATUSES, getRun } from '../../db/runs';
import { listChanges, type ChangeRow } from '../../dreaming/dream-store';
import { revertDreamRun } from '../../dreaming/revert';
import { ConflictError, NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { callerUserId, idempotencyKey, pathId, uuidParam } from '../identity';
import { runJson } from '../render/run-json';
import { parseInput, requestBody } from '../validation';

const StartBody = z
  .object({
    user_id: z.string().trim().min(1).max(256).optional(),
    dry_run: z.boolean().default(false),
    token_budget: z.number().int().min(1000).max(100_000_000).optional(),
  })
  .strict();

const ScheduleBody = z
  .object({
    interval: z
      .union([
        z.string().min(1).max(40),
        z
          .number()
          .int()
          .positive()
          .transform((s) => `${s}s`),
      ])
      .optional(),
    cron: z.string().min(1).max(200).optional(),
    paused: z.boolean().optional(),
    catchup_window: z
      .union([
        z.string().min(1).max(40),
        z
          .number()
          .int()
          .positive()
          .transform((s) => `${s}s`),
      ])
      .optional(),
  })
  .strict();

const ChangesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.coerce.number().int().min(0).optional(),
});

/** Dreaming: start runs, inspect and revert their changes, and the tenant's schedule. */
export function dreamingRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/dreaming' });

  const loadDreamRun = async (ctx: ApiContext) => {
    const run = await getRun(
      deps.pool,
      ctx.state.principal.tenantId,
      uuidParam(pathId(ctx), 'run id'),
    );
    if (!run || run.kind !== 'dream') throw new NotFoundError('dreaming run');
    return run;
  };

  route(
    router,
    { method: 'post', path: '/runs', scope: 'dreaming', body: StartBody },
    async (ctx: ApiContext) => {
      const body = parseInput(StartBody, requestBody(ctx) ?? {}, 'dreaming run');
      const { run } = await deps.dreaming.start({
        tenantId: ctx.state.principal.tenantId,
        userId: body.user_id ?? callerUserId(ctx),
        dryRun: body.dry_run,
        tokenBudget: body.token_budget,
        idempotencyKey: idempotencyKey(ctx),
      });
      ctx.status = 202;
      ctx.set('X-Run-Id', run.id);
      ctx.set('Location', `/v1/runs/${run.id}`);
      ctx.body = runJson(run, deps.config);
    },
  );

  route(
    router,
    { method: 'get', path: '/runs/:id/changes', scope: 'dreaming', query: ChangesQuery },
    async (ctx: ApiContext) => {
      const run = await loadDreamRun(ctx);
      const q = parseInput(ChangesQuery, ctx.query, 'query');
      const rows = await listChanges(deps.pool, run.tenant_id, run.id, {
        limit: q.limit + 1,
        afterSeq: q.after,
      });
      const page = rows.slice(0, q.limit);
      ctx.body = {
        object: 'list',
        run_id: run.id,
        dry_run: Boolean((run.input as unknown as { dry_run?: boolean }).dry_run),
        data: page.map(changeJson),
        next_after: rows.length > q.limit ? page[page.length - 1].seq : null,
      };
    },
  );

  route(
    router,
    { method: 'post', path: '/runs/:id/revert', scope: 'dreaming' },
    async (ctx: ApiContext) => {
      const run = await loadDreamRun(ctx);
      if (!FINISHED_STATUSES.includes(run.status))
        throw new ConflictError(
          'run_in_progress',
          'the dreaming run is still going; cancel it or wait for it first',
        );
      const outcome = await revertDreamRun(
        { pool: deps.pool, embedder: deps.embedder },
        run.tenant_id,
        run.id,
      );
      ctx.body = { object: 'dreaming.revert', run_id: run.id, ...outcome };
    },
  );

  route(
    router,
    { method: 'get', path: '/schedule', scope: 'dreaming' },
    async (ctx: ApiContext) => {
      const schedule = await deps.dreaming.schedule(ctx.state.principal.tenantId);
      if (!schedule) throw new NotFoundError('dreaming schedule');
      ctx.body = schedule;
    },
  );

  route(
    router,
    { method: 'put', path: '/schedule', scope: 'dreaming', body: ScheduleBody },
    async (ctx: ApiContext) => {
      const body = parseInput(ScheduleBody, requestBody(ctx) ?? {}, 'dreaming schedule');
      ctx.body = await deps.dreaming.putSchedule(ctx.state.principal.tenantId, body);
    },
  );

  return router;
}

/** A change as the API shows it, with its provenance. */
export function changeJson(c: ChangeRow) {
  return {
    id: c.id,
    object: 'dreaming.change',
    seq: c.seq,
    run_id: c.run_id,
    user_id: c.user_id,
    kind: c.kind,
    action: c.action,
    target_id: c.target_id,
    field: c.field,
    before: c.before,
    after: c.after,
    applied: c.applied,
    reverted_at: c.reverted_at?.toISOString() ?? null,
    provenance: {
      run_id: c.run_id,
      source_message_ids: c.source_message_ids,
      model: c.model,
      prompt_version: c.prompt_version,
    },
    created_at: c.created_at.toISOString(),
  };
}
