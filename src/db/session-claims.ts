import type { RunRow } from './runs';
import type { Queryable } from './pool';
import { maybeOne, one } from './sql';

/**
 * The session's one-turn-at-a-time rule, held in Postgres (migration 0008):
 * `sessions.active_run_id` names the turn run that holds the session. A claim
 * naming a run that is no longer queued or running counts as free.
 */

/** Who holds a session, read under the session row's lock (in the caller's transaction). */
export interface SessionHold {
  /** The live run holding the claim, if any. */
  holderId: string | null;
  /** Live turns without a live claim: the session entity (older path) still runs them. */
  entityBusy: boolean;
}

/** Lock the session row (serialises starts, hand-offs and stops of its turns) and read its claim. */
export async function lockSessionHold(tx: Queryable, sessionId: string): Promise<SessionHold> {
  // The lock first, the reads in a statement of their own: a statement that
  // waited for the lock would read runs as of before the wait (a holder that
  // just finished would look running, its successor not yet queued).
  await tx.query('select 1 from sessions where id = $1 for update', [sessionId]);
  const row = await one<{ holder_id: string | null; entity_busy: boolean }>(
    tx,
    `select case when a.status in ('queued', 'running') then a.id end as holder_id,
            (a.status is null or a.status not in ('queued', 'running')) and exists (
              select 1 from runs r where r.session_id = s.id and r.kind = 'turn'
                and r.status in ('queued', 'running')) as entity_busy
     from sessions s left join runs a on a.id = s.active_run_id
     where s.id = $1`,
    [sessionId],
  );
  return { holderId: row.holder_id, entityBusy: row.entity_busy };
}

/** The run takes the session, or (null) frees it; the caller holds the session's lock. */
export async function claimSession(
  tx: Queryable,
  sessionId: string,
  runId: string | null,
  handedOff: boolean,
): Promise<void> {
  await tx.query('update sessions set active_run_id = $2, active_handed_off = $3 where id = $1', [
    sessionId,
    runId,
    handedOff,
  ]);
}

/**
 * When `runId` holds its session, pass the claim to the session's oldest
 * queued turn (or free it): in the finishing run's transaction, so a queued
 * turn is never left without a holder to start it.
 * @returns the run that now holds the session, to be started after commit
 */
export async function handOffClaim(tx: Queryable, runId: string): Promise<RunRow | undefined> {
  // Lock first, then read the queue in a statement of its own: its snapshot
  // then sees every run committed by whoever held the lock before us.
  const held = await maybeOne<{ id: string }>(
    tx,
    'select id from sessions where active_run_id = $1 for update',
    [runId],
  );
  if (!held) return undefined;
  const next = await maybeOne<RunRow>(
    tx,
    `select * from runs where session_id = $1 and kind = 'turn' and status = 'queued' and id <> $2
     order by created_at, id limit 1`,
    [held.id, runId],
  );
  await claimSession(tx, held.id, next?.id ?? null, next !== undefined);
  return next;
}

/**
 * After a finished run's retry: the turn it handed its session to, if that
 * turn is still waiting to be started (the first attempt died between the
 * commit and the start), so the retry starts it.
 */
export function pendingHandOff(tx: Queryable, finishedRunId: string): Promise<RunRow | undefined> {
  return maybeOne<RunRow>(
    tx,
    `select r.* from runs f join sessions s on s.id = f.session_id
       join runs r on r.id = s.active_run_id
     where f.id = $1 and s.active_handed_off and r.status = 'queued'`,
    [finishedRunId],
  );
}
