import { insertMessage } from '../db/messages';
import type pg from 'pg';
import type { Pool } from '../db/pool';
import { finishRun, markRunStarted, type RunRow } from '../db/runs';
import { touchSession } from '../db/sessions';
import { handOffClaim, pendingHandOff } from '../db/session-claims';
import { sessionTitle } from './session-title';
import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { NewRunEvent } from '../events/types';
import { loadRun } from '../runs/load-run';
import { messageKey, userMessageId } from './message-keys';
import { keepPartialAnswer } from './partial-answer';

/**
 * Lifecycle writes of a turn's run: begin, complete, abort. Each is
 * idempotent (keys from the run id, `finishRun` finishes once), so an activity
 * retry may repeat any of them.
 */

/**
 * The run starts: its user messages join the history, it turns `running`, and
 * `run.started` is announced once. Idempotent: a retry writes nothing new.
 * Pass the run when the caller has just loaded it (one read less).
 * @throws NonRetryableError `RunGone` when the run no longer exists
 */
export async function beginTurnRun(pool: Pool, runOrId: RunRow | string): Promise<void> {
  const run = typeof runOrId === 'string' ? await loadRun(pool, runOrId) : runOrId;
  const runId = run.id;
  await withTransaction(pool, async (tx) => {
    for (const [index, m] of run.input.messages.entries()) {
      await insertMessage(tx, {
        id: userMessageId(runId, index),
        tenantId: run.tenant_id,
        sessionId: run.session_id!,
        runId,
        role: 'user',
        content: m.content,
        idemKey: messageKey.user(runId, index),
      });
    }
    // Only the first attempt announces the start.
    if (await markRunStarted(tx, runId)) {
      // One string for the stored title and the `title` event, announced only
      // when this turn actually named the session.
      const title = sessionTitle(run.input.messages[0]?.content ?? '');
      const titled = await touchSession(tx, run.session_id!, title);
      const events: NewRunEvent[] = [
        {
          type: 'run.started',
          data: { run_id: runId, session_id: run.session_id, model: run.model },
        },
      ];
      if (titled && title) events.push({ type: 'title', data: { title } });
      await appendRunEvents(tx, runId, events);
    }
  });
}

/** A turn that answered: its final assistant message and why the model stopped. */
export interface CompletedTurn {
  runId: string;
  messageId: string;
  finishReason: string;
}

/**
 * The run succeeded: usage and `done` are announced in the same commit as the
 * status, and the session passes to its next queued turn.
 * @returns the turn that now holds the session, for the caller to start (after commit)
 */
export async function completeTurnRun(
  pool: Pool,
  input: CompletedTurn,
): Promise<RunRow | undefined> {
  return withTransaction(pool, async (tx) => {
    const run = await finishRun(tx, input.runId, {
      status: 'succeeded',
      messageId: input.messageId,
    });
    // Already finished by an earlier attempt: only its hand-off may be left to start.
    if (!run) return pendingHandOff(tx, input.runId);
    await appendRunEvents(tx, input.runId, [
      { type: 'usage', data: usageEvent(run) },
      { type: 'done', data: { reason: input.finishReason, message_id: input.messageId } },
    ]);
    return handOffClaim(tx, input.runId);
  });
}

/** A turn that ends without an answer, and why. */
export interface AbortedTurn {
  runId: string;
  status: 'cancelled' | 'interrupted' | 'failed';
  error?: { code: string; message: string };
}

/**
 * The run ends without an answer: cancelled, interrupted or failed. Text that
 * was already streamed is kept as an incomplete assistant message; status,
 * message, `error`, usage and `done` commit together, once.
 */
export function abortTurnRun(pool: Pool, input: AbortedTurn): Promise<RunRow | undefined> {
  return withTransaction(pool, (tx) => abortTurnRunInTransaction(tx, input));
}

/**
 * {@link abortTurnRun} in the caller's transaction (a stop that holds the session's lock).
 * @returns the turn that now holds the session, for the caller to start (after commit)
 */
export async function abortTurnRunInTransaction(
  tx: pg.PoolClient,
  input: AbortedTurn,
): Promise<RunRow | undefined> {
  const run = await finishRun(tx, input.runId, {
    status: input.status,
    error: input.error ?? null,
  });
  if (!run) return pendingHandOff(tx, input.runId);
  const message = run.session_id ? await keepPartialAnswer(tx, run, input.status) : undefined;
  if (message) await tx.query('update runs set message_id = $2 where id = $1', [run.id, message]);
  const events: NewRunEvent[] = [];
  if (input.error) events.push({ type: 'error', data: input.error });
  events.push({ type: 'usage', data: usageEvent(run) });
  events.push({ type: 'done', data: { reason: input.status, message_id: message ?? null } });
  await appendRunEvents(tx, run.id, events);
  return handOffClaim(tx, run.id);
}

function usageEvent(run: RunRow) {
  return {
    prompt_tokens: run.usage.prompt_tokens ?? 0,
    completion_tokens: run.usage.completion_tokens ?? 0,
    total_tokens: run.usage.total_tokens ?? 0,
  };
}
