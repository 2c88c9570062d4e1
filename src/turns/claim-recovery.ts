import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import type { Pool } from '../db/pool';
import { finishRun, type RunRow } from '../db/runs';
import { handOffClaim } from '../db/session-claims';
import { many, withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { abortTurnRun } from './turn-lifecycle';
import type { TurnStarter } from './turn-starter';

/** Why a run recorded but never accepted was closed. */
export const NOT_ACCEPTED = {
  code: 'not_accepted',
  message: 'the request that created this run ended before the run was accepted; it never ran',
};

const WORKFLOW_DIED = {
  code: 'turn_failed',
  message: 'the turn workflow ended without finishing',
};

/**
 * Close a run that was recorded but never accepted: `failed`, with `error`
 * and `done`, and its claim handed on (in the caller's transaction).
 * @returns whether this call closed it, and the turn that now holds its session
 */
export async function closeNotAccepted(
  tx: pg.PoolClient,
  runId: string,
): Promise<{ closed: boolean; next?: RunRow }> {
  const row = await finishRun(tx, runId, { status: 'failed', error: NOT_ACCEPTED });
  if (!row) return { closed: false };
  await appendRunEvents(tx, runId, [
    { type: 'error', data: NOT_ACCEPTED },
    { type: 'done', data: { reason: 'failed', message_id: null } },
  ]);
  return { closed: true, next: await handOffClaim(tx, runId) };
}

type Holder = RunRow & { active_handed_off: boolean };

/**
 * Recover session claims whose holder will never finish on its own: a holder
 * whose start was lost (a hand-off: started now, it was acknowledged; the
 * request's own claim: closed as not accepted, as the entity path did), a
 * holder whose workflow ended without finishing it (terminated, timed out:
 * failed), and a claim left on a finished run (handed on).
 * @returns the runs it closed
 */
export async function recoverClaims(
  pool: Pool,
  temporal: Client,
  turns: Pick<TurnStarter, 'start'>,
  minAgeMs: number,
): Promise<string[]> {
  const holders = await many<Holder>(
    pool,
    `select r.*, s.active_handed_off from sessions s join runs r on r.id = s.active_run_id
     where s.active_run_id is not null
       and (r.status not in ('queued', 'running') or s.active_handed_off
            or coalesce(r.started_at, r.created_at) < now() - make_interval(secs => $1::float8 / 1000))
     order by r.created_at limit 100`,
    [minAgeMs],
  );
  const closed: string[] = [];
  for (const holder of holders) {
    let next: RunRow | undefined;
    if (holder.status !== 'queued' && holder.status !== 'running') {
      next = await withTransaction(pool, (tx) => handOffClaim(tx, holder.id));
    } else {
      const workflow = await workflowState(temporal, holder);
      if (workflow === 'running') continue;
      const neverStarted = holder.status === 'queued' && workflow === 'missing';
      if (neverStarted && holder.active_handed_off) {
        await turns.start(holder);
        continue;
      }
      const outcome = neverStarted
        ? await withTransaction(pool, (tx) => closeNotAccepted(tx, holder.id))
        : {
            closed: true,
            next: await abortTurnRun(pool, {
              runId: holder.id,
              status: 'failed',
              error: WORKFLOW_DIED,
            }),
          };
      if (outcome.closed) closed.push(holder.id);
      next = outcome.next;
    }
    if (next) await turns.start(next);
  }
  return closed;
}

/** Whether the run's turn workflow runs, ended, or never existed. */
async function workflowState(
  temporal: Client,
  run: RunRow,
): Promise<'running' | 'closed' | 'missing'> {
  try {
    const d = await temporal.workflow.getHandle(turnWorkflowId(run.tenant_id, run.id)).describe();
    return d.status.name === 'RUNNING' ? 'running' : 'closed';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'missing';
    throw err;
  }
}
