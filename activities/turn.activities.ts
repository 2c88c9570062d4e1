import { randomUUID } from 'node:crypto';
import { appendRunEventsInTransaction } from '../src/events/event-log';
import type { NewRunEvent } from '../src/events/types';
import { insertMessage, type IncompleteReason } from '../src/db/messages';
import { finishRun, markRunStarted, type RunRow } from '../src/db/runs';
import { loadRun } from './load-run';
import { touchSession } from '../src/db/sessions';
import { sessionTitle } from '../src/turns/session-title';
import { maybeOne, withTransaction } from '../src/db/sql';
import type { Pool } from '../src/db/pool';
import type { ActivityDeps } from './deps';

/** Idempotency keys of the messages a run writes: a retry finds the first write. */
export const messageKey = {
  user: (runId: string, index: number) => `${runId}:user:${index}`,
  assistant: (runId: string, step: number) => `${runId}:assistant:${step}`,
  tool: (runId: string, step: number, index: number) => `${runId}:tool:${step}:${index}`,
};

/** Lifecycle writes of a turn: start, finish, abort. Each is idempotent. */
export function createTurnActivities({ pool }: ActivityDeps) {
  return {
    /**
     * The run starts (histories recorded before `turn-begin-in-step-v1`; newer
     * turns begin inside their first model step).
     */
    async beginTurn({ runId }: { runId: string }): Promise<void> {
      await beginTurnRun(pool, runId);
    },

    /** The run succeeded (histories recorded before `turn-complete-in-step-v1`). */
    async completeTurn(input: CompletedTurn): Promise<void> {
      await completeTurnRun(pool, input);
    },

    /**
     * The run ends without an answer: cancelled, interrupted or failed. Text that
     * was already streamed is kept as an incomplete assistant message.
     */
    async abortTurn(input: {
      runId: string;
      status: 'cancelled' | 'interrupted' | 'failed';
      error?: { code: string; message: string };
    }): Promise<void> {
      await withTransaction(pool, async (tx) => {
        const run = await finishRun(tx, input.runId, {
          status: input.status,
          error: input.error ?? null,
        });
        if (!run) return;
        const message = run.session_id ? await keepPartialAnswer(tx, run, input.status) : undefined;
        if (message)
          await tx.query('update runs set message_id = $2 where id = $1', [run.id, message]);
        const events: NewRunEvent[] = [];
        if (input.error) events.push({ type: 'error', data: input.error });
        events.push({ type: 'usage', data: usageEvent(run) });
        events.push({ type: 'done', data: { reason: input.status, message_id: message ?? null } });
        await appendRunEventsInTransaction(tx, run.id, events);
      });
    },
  };
}

/**
 * The run starts: its user messages join the history, it turns `running`, and
 * `run.started` is announced once. Idempotent: a retry writes nothing new.
 */
export async function beginTurnRun(pool: Pool, runId: string): Promise<void> {
  const run = await loadRun(pool, runId);
  await withTransaction(pool, async (tx) => {
    for (const [index, m] of run.input.messages.entries()) {
      await insertMessage(tx, {
        id: randomUUID(),
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
      await appendRunEventsInTransaction(tx, runId, events);
    }
  });
}

export interface CompletedTurn {
  runId: string;
  messageId: string;
  finishReason: string;
}

/** The run succeeded: usage and `done` are announced in the same commit as the status. */
export async function completeTurnRun(pool: Pool, input: CompletedTurn): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const run = await finishRun(tx, input.runId, {
      status: 'succeeded',
      messageId: input.messageId,
    });
    if (!run) return; // already finished by an earlier attempt
    await appendRunEventsInTransaction(tx, input.runId, [
      { type: 'usage', data: usageEvent(run) },
      { type: 'done', data: { reason: input.finishReason, message_id: input.messageId } },
    ]);
  });
}

function usageEvent(run: RunRow) {
  return {
    prompt_tokens: run.usage.prompt_tokens ?? 0,
    completion_tokens: run.usage.completion_tokens ?? 0,
    total_tokens: run.usage.total_tokens ?? 0,
  };
}

/**
 * Persist the text of the step that was streaming when the run stopped: the
 * deltas of its latest attempt (earlier attempts were discarded by `retry`).
 * Steps that already have their message are left as they are.
 */
async function keepPartialAnswer(
  tx: Parameters<typeof maybeOne>[0],
  run: RunRow,
  status: 'cancelled' | 'interrupted' | 'failed',
): Promise<string | undefined> {
  const last = await maybeOne<{ step: number; attempt: number }>(
    tx,
    `select step, attempt from run_events where run_id = $1 and type = 'message.delta'
     order by seq desc limit 1`,
    [run.id],
  );
  if (!last) return undefined;
  const existing = await maybeOne<{ id: string }>(
    tx,
    'select id from messages where session_id = $1 and idem_key = $2',
    [run.session_id, messageKey.assistant(run.id, last.step)],
  );
  if (existing) return undefined;
  const text = await maybeOne<{ content: string }>(
    tx,
    `select string_agg(data->>'content', '' order by seq) as content from run_events
     where run_id = $1 and type = 'message.delta' and step = $2 and attempt = $3`,
    [run.id, last.step, last.attempt],
  );
  const reason: IncompleteReason = status;
  const message = await insertMessage(tx, {
    id: randomUUID(),
    tenantId: run.tenant_id,
    sessionId: run.session_id!,
    runId: run.id,
    role: 'assistant',
    content: text?.content ?? '',
    status: 'incomplete',
    incompleteReason: reason,
    idemKey: messageKey.assistant(run.id, last.step),
  });
  return message.id;
}
