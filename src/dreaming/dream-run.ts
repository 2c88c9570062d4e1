import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool';
import { loadRun } from '../runs/load-run';
import type { DreamDeps } from './dream-deps';
import { ensureDreamRun, type DreamRunInput, type DreamRunRow } from './dream-store';

/** The tenant, user and run a user's dreaming run writes for. */
export interface DreamScope {
  tenantId: string;
  userId: string;
  runId: string;
}

/** The run, as a dreaming run. @throws NonRetryableError `RunGone` when it no longer exists */
export async function loadDreamRun(db: Queryable, runId: string): Promise<DreamRunRow> {
  return (await loadRun(db, runId)) as unknown as DreamRunRow;
}

/**
 * The run of a dreaming workflow: the one the API created (`runId`), or the
 * one this workflow created before (a scheduled run), or a new one. Created
 * once per workflow id, so a retry finds the first.
 */
export async function findOrCreateDreamRun(
  { pool, config, models }: DreamDeps,
  request: {
    runId?: string;
    tenantId: string;
    workflowId: string;
    input: Omit<DreamRunInput, 'token_budget'> & { token_budget?: number };
  },
): Promise<DreamRunRow> {
  if (request.runId) return loadDreamRun(pool, request.runId);
  return ensureDreamRun(pool, {
    id: randomUUID(),
    tenantId: request.tenantId,
    workflowId: request.workflowId,
    model: config.dreaming.model ?? models.defaultModel,
    input: {
      ...request.input,
      token_budget: request.input.token_budget ?? config.dreaming.tokenBudget,
    },
  });
}

/** Whether the run has spent its token budget (later model stages are skipped). */
export function overBudget(run: DreamRunRow): boolean {
  return (run.usage.total_tokens ?? 0) >= run.input.token_budget;
}

/** A user's run's scope. */
export function scopeOf(run: DreamRunRow): DreamScope {
  return { tenantId: run.tenant_id, userId: run.input.user_id!, runId: run.id };
}

/** Where a run records its changes: applied unless it is a dry run. */
export function changeScope(run: DreamRunRow) {
  return {
    id: run.id,
    tenantId: run.tenant_id,
    userId: run.input.user_id!,
    applied: !run.input.dry_run,
  };
}
