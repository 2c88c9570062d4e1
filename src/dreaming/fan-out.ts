import { finishRun, markRunStarted } from '../db/runs';
import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { DreamDeps } from './dream-deps';
import { findOrCreateDreamRun } from './dream-run';
import { usersWithNewActivity } from './dream-store';

/**
 * The fan-out of `dreamAllWorkflow`: its own run (kind `dream`, no user), the
 * users worth dreaming for a page at a time, progress per user, and the end.
 */

/** What `dreamAllWorkflow` starts with: the tenant, its window, and the API's run if it made one. */
export interface BeginDreamAllInput {
  tenantId: string;
  workflowId: string;
  windowEnd: string;
  runId?: string;
  dryRun?: boolean;
  tokenBudget?: number;
}

/** The fan-out's run, created once per workflow; `run.started` is announced once. @returns its id */
export async function beginDreamAll(deps: DreamDeps, input: BeginDreamAllInput): Promise<string> {
  const run = await findOrCreateDreamRun(deps, {
    runId: input.runId,
    tenantId: input.tenantId,
    workflowId: input.workflowId,
    input: {
      user_id: null,
      window_end: input.windowEnd,
      dry_run: input.dryRun ?? false,
      token_budget: input.tokenBudget,
    },
  });
  await withTransaction(deps.pool, async (tx) => {
    if (await markRunStarted(tx, run.id))
      await appendRunEvents(tx, run.id, [
        {
          type: 'run.started',
          data: { run_id: run.id, kind: 'dream', window_end: input.windowEnd },
        },
      ]);
  });
  return run.id;
}

/** One page of users to dream for, in id order. */
export interface DreamUsersPage {
  userIds: string[];
  /** Pass as `after` for the next page; null after the last. */
  next: string | null;
}

/** Users with messages or files since their watermark, a page at a time; the others cost nothing. */
export async function listDreamUsers(
  { pool }: DreamDeps,
  input: { tenantId: string; windowEnd: string; after: string | null; limit: number },
): Promise<DreamUsersPage> {
  const userIds = await usersWithNewActivity(pool, input.tenantId, input.windowEnd, {
    after: input.after,
    limit: input.limit,
  });
  return { userIds, next: userIds.length === input.limit ? userIds[userIds.length - 1] : null };
}

/** One user's dreaming outcome, `done` of `found` users so far. */
export interface DreamAllProgress {
  runId: string;
  userId: string;
  status: string;
  done: number;
  found: number;
}

/** One user's dreaming ended: a `progress` event on the fan-out's run. */
export async function reportDreamAllProgress(
  { pool }: DreamDeps,
  input: DreamAllProgress,
): Promise<void> {
  await appendRunEvents(pool, input.runId, [
    {
      type: 'progress',
      data: {
        step: input.done,
        total_steps: input.found,
        label: `Dreamt user ${input.userId}`,
        status: 'completed',
        user_id: input.userId,
        outcome: input.status,
      },
    },
  ]);
}

/** The fan-out succeeded: status and `done` (users, failed) commit once. */
export async function finishDreamAll(
  { pool }: DreamDeps,
  input: { runId: string; users: number; failed: number },
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const finished = await finishRun(tx, input.runId, { status: 'succeeded' });
    if (!finished) return;
    await appendRunEvents(tx, input.runId, [
      {
        type: 'done',
        data: {
          reason: 'completed',
          message_id: null,
          users: input.users,
          failed: input.failed,
        },
      },
    ]);
  });
}
