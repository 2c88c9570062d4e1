import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { toVectorLiteral } from '../embeddings/embedder';
import type { Queryable } from '../db/pool';
import { many, maybeOne, one } from '../db/sql';

/**
 * SQL of long-term memories. Every function takes the tenant and the user and
 * filters by both: memories are never shared across tenants or users.
 *
 * A memory keeps its id for life. An update archives the previous version as
 * a row of its own (`valid_to` set, `superseded_by` = the memory's id) and
 * rewrites the current row; a delete closes the current row (`valid_to`).
 * Every change is logged in `memory_changes`.
 */

export interface MemoryRow {
  id: string;
  tenant_id: string;
  user_id: string;
  content: string;
  content_hash: string;
  category: string | null;
  metadata: Record<string, unknown>;
  valid_from: Date;
  valid_to: Date | null;
  superseded_by: string | null;
  source_run_id: string | null;
  source_message_ids: string[];
  created_at: Date;
  updated_at: Date;
}

export interface ScoredMemory extends MemoryRow {
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
}

export type MemoryEvent = 'ADD' | 'UPDATE' | 'DELETE';
export type ChangeSource = 'extraction' | 'api' | 'dreaming';

export interface MemoryChangeRow {
  id: string;
  seq: number;
  memory_id: string;
  event: MemoryEvent;
  previous_content: string | null;
  content: string | null;
  archived_id: string | null;
  source: ChangeSource;
  run_id: string | null;
  reason: string | null;
  created_at: Date;
}

/** Who made a change and why; recorded in the change log. */
export interface Provenance {
  source: ChangeSource;
  runId?: string | null;
  reason?: string | null;
}

const COLUMNS = `id, tenant_id, user_id, content, content_hash, category, metadata, valid_from, valid_to,
  superseded_by, source_run_id, source_message_ids, created_at, updated_at`;

/** HNSW search breadth: recall@10 ≥ 0.95 at 100k vectors (bench/memory-search.ts). */
export const DEFAULT_EF_SEARCH = 100;

/** A current memory of this user, or undefined (deleted, archived, another user's or tenant's). */
export function getMemory(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories where tenant_id = $1 and id = $2 and valid_to is null`,
    [tenantId, id],
  );
}

/** Any row with this id in the tenant: current, archived or deleted (for history). */
export function getMemoryAnyVersion(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories where tenant_id = $1 and id = $2`,
    [tenantId, id],
  );
}

/** A user's current memories, most recently changed first. */
export function listMemories(
  db: Queryable,
  tenantId: string,
  userId: string,
  page: { limit: number; before?: { updatedAt: string; id: string } },
): Promise<MemoryRow[]> {
  return many<MemoryRow>(
    db,
    `select ${COLUMNS} from memories
     where tenant_id = $1 and user_id = $2 and valid_to is null
       and ($3::timestamptz is null or (updated_at, id) < ($3::timestamptz, $4::uuid))
     order by updated_at desc, id desc limit $5`,
    [tenantId, userId, page.before?.updatedAt ?? null, page.before?.id ?? null, page.limit],
  );
}

export function findCurrentByHash(
  db: Queryable,
  tenantId: string,
  userId: string,
  hash: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories
     where tenant_id = $1 and user_id = $2 and content_hash = $3 and valid_to is null`,
    [tenantId, userId, hash],
  );
}

export interface SearchOptions {
  tenantId: string;
  userId: string;
  vector: number[];
  limit: number;
  /** Drop hits below this cosine similarity. */
  minScore?: number;
  /** @default DEFAULT_EF_SEARCH */
  efSearch?: number;
}

/**
 * Users with at most this many memories are searched exactly: reading a few
 * rows is cheaper than walking a graph whose nodes are mostly other users',
 * and exact. (Measured: a user with 500 of 100k rows searched through HNSW
 * with iterative scans took 25-35 ms at recall 0.92; exactly, 5-11 ms at 1.0.)
 */
export const EXACT_SEARCH_MAX_ROWS = 2000;
/** Tuples an iterative HNSW scan may visit before giving up (pgvector's default is 20 000). */
const MAX_SCAN_TUPLES = 50_000;

/**
 * The user's current memories nearest to `vector` (cosine), best first.
 * A user with few memories is searched exactly (their rows through the
 * per-user index); a user with many through the HNSW index with iterative
 * scans, so the tenant/user filter does not starve the result.
 */
export async function searchMemories(
  pool: pg.Pool | pg.PoolClient,
  options: SearchOptions,
): Promise<ScoredMemory[]> {
  const client = 'release' in pool ? pool : await pool.connect();
  const params = [options.tenantId, options.userId, toVectorLiteral(options.vector), options.limit];
  const keep = (rows: ScoredMemory[]) =>
    options.minScore === undefined ? rows : rows.filter((r) => r.score >= options.minScore!);
  try {
    if (!(await isLargeUser(client, options.tenantId, options.userId))) {
      // Materialised first, so the planner cannot take the HNSW index: exact.
      const rows = await many<ScoredMemory>(
        client,
        `with mine as materialized (
           select ${COLUMNS}, embedding from memories
           where tenant_id = $1 and user_id = $2 and valid_to is null and embedding is not null
         )
         select ${COLUMNS}, 1 - (embedding <=> $3::vector) as score
         from mine order by embedding <=> $3::vector limit $4`,
        params,
      );
      return keep(rows);
    }
    // One round trip for the transaction and its settings (simple query protocol).
    const ef = Math.max(options.limit, Math.floor(options.efSearch ?? DEFAULT_EF_SEARCH));
    await client.query(
      // The planner's HNSW cost grows with ef_search; past a point it prefers reading and
      // sorting every row of the user (hundreds of ms): the index is always the better plan here.
      `begin; set local hnsw.ef_search = ${ef}; set local hnsw.iterative_scan = relaxed_order;
       set local hnsw.max_scan_tuples = ${MAX_SCAN_TUPLES};
       set local enable_seqscan = off; set local enable_bitmapscan = off; set local enable_sort = off`,
    );
    try {
      // Relaxed order: re-sorted after the scan.
      const rows = await many<ScoredMemory>(
        client,
        `with nearest as materialized (
           select ${COLUMNS}, embedding <=> $3::vector as distance
           from memories
           where tenant_id = $1 and user_id = $2 and valid_to is null and embedding is not null
           order by embedding <=> $3::vector
           limit $4
         )
         select ${COLUMNS}, 1 - distance as score from nearest order by distance`,
        params,
      );
      await client.query('commit');
      return keep(rows);
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  } finally {
    if (client !== pool) client.release();
  }
}

/** Users known to have many memories (they only grow past the threshold slowly): saves a probe per search. */
const largeUsers = new Map<string, number>();
const LARGE_USER_TTL_MS = 60_000;
const LARGE_USER_CACHE = 10_000;

async function isLargeUser(
  client: pg.PoolClient,
  tenantId: string,
  userId: string,
): Promise<boolean> {
  const key = `${tenantId}:${userId}`;
  const seen = largeUsers.get(key);
  if (seen !== undefined && Date.now() - seen < LARGE_USER_TTL_MS) return true;
  const probe = await one<{ n: number }>(
    client,
    `select count(*)::int as n from (select 1 from memories
       where tenant_id = $1 and user_id = $2 and valid_to is null limit $3) s`,
    [tenantId, userId, EXACT_SEARCH_MAX_ROWS + 1],
  );
  const large = probe.n > EXACT_SEARCH_MAX_ROWS;
  largeUsers.delete(key);
  if (large) {
    if (largeUsers.size >= LARGE_USER_CACHE) largeUsers.delete(largeUsers.keys().next().value!);
    largeUsers.set(key, Date.now());
  }
  return large;
}

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

/** Every change of a memory, oldest first. */
export function memoryHistory(
  db: Queryable,
  tenantId: string,
  memoryId: string,
): Promise<MemoryChangeRow[]> {
  return many<MemoryChangeRow>(
    db,
    `select id, seq, memory_id, event, previous_content, content, archived_id, source, run_id, reason, created_at
     from memory_changes where tenant_id = $1 and memory_id = $2 order by seq`,
    [tenantId, memoryId],
  );
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

async function logChange(
  tx: Queryable,
  row: MemoryRow,
  change: {
    event: MemoryEvent;
    previous: string | null;
    content: string | null;
    archivedId?: string;
  },
  provenance: Provenance,
): Promise<void> {
  await tx.query(
    `insert into memory_changes (id, tenant_id, user_id, memory_id, event, previous_content, content, archived_id,
                                 source, run_id, reason)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      randomUUID(),
      row.tenant_id,
      row.user_id,
      row.id,
      change.event,
      change.previous,
      change.content,
      change.archivedId ?? null,
      provenance.source,
      provenance.runId ?? null,
      provenance.reason ?? null,
    ],
  );
}
