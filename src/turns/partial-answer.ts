import { randomUUID } from 'node:crypto';
import { insertMessage, type IncompleteReason } from '../db/messages';
import type { RunRow } from '../db/runs';
import { maybeOne } from '../db/sql';
import { messageKey } from './message-keys';

/**
 * Persist the text of the step that was streaming when the run stopped: the
 * deltas of its latest attempt (earlier attempts were discarded by `retry`).
 * Steps that already have their message are left as they are.
 * @returns the id of the incomplete assistant message, or undefined when none was written
 */
export async function keepPartialAnswer(
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
