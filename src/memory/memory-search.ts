import type pg from 'pg';
import { many, one } from '../db/sql';
import { toVectorLiteral } from '../embeddings/embedder';
import { MEMORY_COLUMNS as COLUMNS, type ScoredMemory } from './memory-rows';

/** HNSW search breadth: recall@10 ≥ 0.95 at 100k vectors (bench/memory-search.ts). */
export const DEFAULT_EF_SEARCH = 100;

/** A similarity search over one user's current memories. */
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
