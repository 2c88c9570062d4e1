import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool';
import { maybeOne, one } from '../db/sql';
import { toVectorLiteral } from '../embeddings/embedder';
import { logChange } from './memory-history';
import { findCurrentByHash } from './memory-reads';
import { MEMORY_COLUMNS as COLUMNS, type MemoryRow, type Provenance } from './memory-rows';

/**
 * Writes of long-term memories. A memory keeps its id for life: an update
 * archives the previous version as a row of its own and rewrites the current
 * row; a delete closes the current row. Every change is logged.
 */

/** A memory to add; `hash` is the content hash of its normalised text. */
export interface NewMemory {
  tenantId: string;
  userId: string;
  content: string;
  hash: string;
  vector: number[];
  category?: string | null;
  metadata?: Record<string, unknown>;
  sourceRunId?: string | null;
  sourceMessageIds?: string[];
}

/**
 * Add a memory and log it. A current memory with the same normalised text
 * wins (unique index): then nothing is written and undefined is returned.
 */
export async function addMemory(
  tx: Queryable,
  m: NewMemory,
  provenance: Provenance,
): Promise<MemoryRow | undefined> {
  const row = await maybeOne<MemoryRow>(
    tx,
    `insert into memories (id, tenant_id, user_id, content, content_hash, category, metadata, embedding,
                           source_run_id, source_message_ids)
     values ($1, $2, $3, $4, $5, $6, $7, $8::vector, $9, $10::uuid[])
     on conflict (tenant_id, user_id, content_hash) where valid_to is null do nothing
     returning ${COLUMNS}`,
    [
      randomUUID(),
      m.tenantId,
      m.userId,
      m.content,
      m.hash,
      m.category ?? null,
      JSON.stringify(m.metadata ?? {}),
      toVectorLiteral(m.vector),
      m.sourceRunId ?? null,
      m.sourceMessageIds ?? [],
    ],
  );
  if (row)
    await logChange(tx, row, { event: 'ADD', previous: null, content: row.content }, provenance);
  return row;
}

/**
 * Rewrite a current memory, archiving its previous version.
 * @returns the updated row; undefined when the memory is not current, or when
 * another current memory already says the new text (nothing is changed then).
 */
export async function updateMemory(
  tx: Queryable,
  target: { tenantId: string; id: string },
  next: {
    content: string;
    hash: string;
    vector: number[];
    metadata?: Record<string, unknown>;
    category?: string | null;
  },
  provenance: Provenance,
): Promise<MemoryRow | undefined> {
  const current = await maybeOne<MemoryRow>(
    tx,
    `select ${COLUMNS} from memories where tenant_id = $1 and id = $2 and valid_to is null for update`,
    [target.tenantId, target.id],
  );
  if (!current) return undefined;
  if (
    current.content === next.content &&
    next.metadata === undefined &&
    next.category === undefined
  )
    return current;
  if (current.content_hash !== next.hash) {
    const clash = await findCurrentByHash(tx, current.tenant_id, current.user_id, next.hash);
    if (clash) return undefined;
  }
  const archivedId = randomUUID();
  await tx.query(
    `insert into memories (id, tenant_id, user_id, content, content_hash, category, metadata, embedding,
                           valid_from, valid_to, superseded_by, source_run_id, source_message_ids, created_at, updated_at)
     select $2, tenant_id, user_id, content, content_hash, category, metadata, embedding,
            valid_from, now(), id, source_run_id, source_message_ids, created_at, updated_at
     from memories where id = $1`,
    [current.id, archivedId],
  );
  const updated = await one<MemoryRow>(
    tx,
    `update memories set content = $2, content_hash = $3, embedding = $4::vector,
            metadata = coalesce($5::jsonb, metadata), category = case when $6::boolean then $7 else category end,
            source_run_id = coalesce($8, source_run_id), valid_from = now(), updated_at = now()
     where id = $1 returning ${COLUMNS}`,
    [
      current.id,
      next.content,
      next.hash,
      toVectorLiteral(next.vector),
      next.metadata ? JSON.stringify(next.metadata) : null,
      next.category !== undefined,
      next.category ?? null,
      provenance.runId ?? null,
    ],
  );
  await logChange(
    tx,
    updated,
    { event: 'UPDATE', previous: current.content, content: updated.content, archivedId },
    provenance,
  );
  return updated;
}

/** Close a current memory (it stays for history). @returns false when it was not current. */
export async function deleteMemory(
  tx: Queryable,
  target: { tenantId: string; id: string },
  provenance: Provenance,
): Promise<boolean> {
  const row = await maybeOne<MemoryRow>(
    tx,
    `update memories set valid_to = now(), updated_at = now()
     where tenant_id = $1 and id = $2 and valid_to is null returning ${COLUMNS}`,
    [target.tenantId, target.id],
  );
  if (!row) return false;
  await logChange(tx, row, { event: 'DELETE', previous: row.content, content: null }, provenance);
  return true;
}

/** Erase every memory of a user, history included. @returns how many memories were current. */
export async function clearUserMemories(
  tx: Queryable,
  tenantId: string,
  userId: string,
): Promise<number> {
  const current = await one<{ n: number }>(
    tx,
    'select count(*)::int as n from memories where tenant_id = $1 and user_id = $2 and valid_to is null',
    [tenantId, userId],
  );
  await tx.query('delete from memory_changes where tenant_id = $1 and user_id = $2', [
    tenantId,
    userId,
  ]);
  await tx.query('delete from memories where tenant_id = $1 and user_id = $2', [tenantId, userId]);
  return current.n;
}

/** Serialise writers of one user's memories until the transaction ends. */
export async function lockUserMemories(
  tx: Queryable,
  tenantId: string,
  userId: string,
): Promise<void> {
  await tx.query('select pg_advisory_xact_lock(hashtextextended($1, 727003))', [
    `${tenantId}:${userId}`,
  ]);
}
