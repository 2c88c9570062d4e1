import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

export type MessageRole = 'system' | 'user' | 'assistant' | 'tool';
export type IncompleteReason = 'interrupted' | 'cancelled' | 'failed' | 'max_tokens';

export interface MessageRow {
  id: string;
  tenant_id: string;
  session_id: string;
  run_id: string | null;
  seq: number;
  role: MessageRole;
  content: string;
  tool_calls:
    { id: string; type: 'function'; function: { name: string; arguments: string } }[] | null;
  tool_call_id: string | null;
  status: 'completed' | 'incomplete';
  incomplete_reason: IncompleteReason | null;
  usage: Record<string, number> | null;
  idem_key: string | null;
  created_at: Date;
}

export interface NewMessage {
  id: string;
  tenantId: string;
  sessionId: string;
  runId: string | null;
  role: MessageRole;
  content: string;
  toolCalls?: MessageRow['tool_calls'];
  toolCallId?: string | null;
  status?: 'completed' | 'incomplete';
  incompleteReason?: IncompleteReason | null;
  usage?: Record<string, number> | null;
  /** Stable key derived from the run and step: a retried write finds the first one. */
  idemKey: string | null;
}

/**
 * Insert a message once: a second insert with the same idempotency key returns
 * the row written first, so activity retries never duplicate history.
 */
export async function insertMessage(db: Queryable, m: NewMessage): Promise<MessageRow> {
  const inserted = await maybeOne<MessageRow>(
    db,
    `insert into messages (id, tenant_id, session_id, run_id, role, content, tool_calls,
                           tool_call_id, status, incomplete_reason, usage, idem_key)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (session_id, idem_key) where idem_key is not null do nothing
     returning *`,
    [
      m.id,
      m.tenantId,
      m.sessionId,
      m.runId,
      m.role,
      m.content,
      m.toolCalls ? JSON.stringify(m.toolCalls) : null,
      m.toolCallId ?? null,
      m.status ?? 'completed',
      m.incompleteReason ?? null,
      m.usage ? JSON.stringify(m.usage) : null,
      m.idemKey,
    ],
  );
  if (inserted) return inserted;
  return one<MessageRow>(db, 'select * from messages where session_id = $1 and idem_key = $2', [
    m.sessionId,
    m.idemKey,
  ]);
}

/** A session's whole history in order (the turn's prompt is built from it). */
export function loadSessionHistory(db: Queryable, sessionId: string): Promise<MessageRow[]> {
  return many<MessageRow>(db, 'select * from messages where session_id = $1 order by seq', [
    sessionId,
  ]);
}

/** Page of a session's messages, newest first, before an optional message seq. */
export function listSessionMessages(
  db: Queryable,
  sessionId: string,
  options: { limit: number; beforeSeq?: number },
): Promise<MessageRow[]> {
  return many<MessageRow>(
    db,
    `select * from messages where session_id = $1 and ($2::bigint is null or seq < $2)
     order by seq desc limit $3`,
    [sessionId, options.beforeSeq ?? null, options.limit],
  );
}

export function getMessage(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MessageRow | undefined> {
  return maybeOne<MessageRow>(db, 'select * from messages where tenant_id = $1 and id = $2', [
    tenantId,
    id,
  ]);
}

export function messagesOfRun(db: Queryable, runId: string): Promise<MessageRow[]> {
  return many<MessageRow>(db, 'select * from messages where run_id = $1 order by seq', [runId]);
}
