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

/** A message with, when it is its run's answer, that run's id (the façades name answers by run). */
export type ItemRow = MessageRow & { answer_of: string | null };

const ITEM_COLUMNS = `m.*, case when r.message_id = m.id then r.id end as answer_of`;

/** A page of a session's messages in `order`, after an optional message seq. */
export function listSessionItems(
  db: Queryable,
  sessionId: string,
  options: { order: 'asc' | 'desc'; afterSeq?: number; limit: number },
): Promise<ItemRow[]> {
  const asc = options.order === 'asc';
  return many<ItemRow>(
    db,
    `select ${ITEM_COLUMNS} from messages m left join runs r on r.id = m.run_id
     where m.session_id = $1 and ($2::bigint is null or m.seq ${asc ? '>' : '<'} $2)
     order by m.seq ${asc ? 'asc' : 'desc'} limit $3`,
    [sessionId, options.afterSeq ?? null, options.limit],
  );
}

/** One message of a session, by its id or by the id of the run it answers. */
export function findSessionItem(
  db: Queryable,
  sessionId: string,
  id: string,
): Promise<ItemRow | undefined> {
  return maybeOne<ItemRow>(
    db,
    `select ${ITEM_COLUMNS} from messages m left join runs r on r.id = m.run_id
     where m.session_id = $1 and (m.id = $2 or (r.id = $2 and r.message_id = m.id))`,
    [sessionId, id],
  );
}

export async function deleteMessage(db: Queryable, sessionId: string, id: string): Promise<void> {
  await db.query('delete from messages where session_id = $1 and id = $2', [sessionId, id]);
}

/** A session's history up to and including the messages of one run (a fork's seed). */
export function historyThroughRun(
  db: Queryable,
  sessionId: string,
  runId: string,
): Promise<MessageRow[]> {
  return many<MessageRow>(
    db,
    `select * from messages where session_id = $1
       and seq <= (select max(seq) from messages where session_id = $1 and run_id = $2)
     order by seq`,
    [sessionId, runId],
  );
}

/**
 * A session's messages before a run's own (the state a run starts from): the
 * same rows however often it is asked, once the run has written its messages.
 */
export function itemsBeforeRun(
  db: Queryable,
  sessionId: string,
  runId: string,
): Promise<ItemRow[]> {
  return many<ItemRow>(
    db,
    `select ${ITEM_COLUMNS} from messages m left join runs r on r.id = m.run_id
     where m.session_id = $1 and m.run_id is distinct from $2
       and m.seq < coalesce((select min(seq) from messages where session_id = $1 and run_id = $2),
                            9223372036854775807)
     order by m.seq`,
    [sessionId, runId],
  );
}

/** A session's whole history as items, in order (through `runId`'s messages when given). */
export function sessionItems(
  db: Queryable,
  sessionId: string,
  throughRunId?: string,
): Promise<ItemRow[]> {
  return many<ItemRow>(
    db,
    `select ${ITEM_COLUMNS} from messages m left join runs r on r.id = m.run_id
     where m.session_id = $1
       and ($2::uuid is null or m.seq <= (select max(seq) from messages where session_id = $1 and run_id = $2))
     order by m.seq`,
    [sessionId, throughRunId ?? null],
  );
}
