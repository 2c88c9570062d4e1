import type pg from 'pg';
import type { Pool } from '../db/pool';
import { withTransaction } from '../db/sql';
import { toVectorLiteral, type Embedder } from '../embeddings';

export const SEARCH_TYPES = ['chunks', 'memories', 'moments', 'messages'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

export interface SearchQuery {
  tenantId: string;
  /** Only this user's memories, moments and sessions, plus files shared tenant-wide (no user). */
  userId: string | null;
  q: string;
  types: readonly SearchType[];
  limit: number;
}

/** One ranked hit (API.md: `{type, id, score, text, source}`). */
export interface SearchHit {
  type: SearchType;
  id: string;
  /** Reciprocal rank fusion score: Σ 1/(60 + rank) over the rankings that found it. */
  score: number;
  text: string;
  source: Record<string, unknown>;
}

/** RRF's damping constant (Cormack et al.): later ranks still count, but less. */
const RRF_K = 60;
/** Message texts can be long; hits show the start. */
const MESSAGE_TEXT_CHARS = 1000;

interface Candidate {
  id: string;
  text: string;
  source: Record<string, unknown>;
}

/**
 * Hybrid search: for each type, a vector ranking (pgvector HNSW, cosine) and a
 * full-text ranking (Postgres tsvector), fused by reciprocal rank. Messages
 * have no embeddings, so only their full-text ranking counts. Every query is
 * filtered by tenant (and user when given) inside SQL; only files whose
 * ingestion finished (`ready`) are searched.
 */
export async function hybridSearch(
  pool: Pool,
  embedder: Embedder,
  query: SearchQuery,
): Promise<SearchHit[]> {
  const depth = Math.max(query.limit * 3, 20);
  const terms = tsqueryTerms(query.q);
  const needsVector = query.types.some((t) => t !== 'messages');
  const vector = needsVector ? toVectorLiteral((await embedder.embed([query.q]))[0]) : '';
  const ctx = { tenantId: query.tenantId, userId: query.userId, vector, terms, depth };

  const rankings = await withTransaction(pool, async (tx) => {
    // Filters apply after the HNSW scan: look further so enough rows survive them.
    await tx.query(`set local hnsw.ef_search = ${Math.min(Math.max(depth * 2, 40), 1000)}`);
    const lists: { type: SearchType; rows: Candidate[] }[] = [];
    for (const type of query.types) {
      const q = QUERIES[type];
      if (q.vector && vector) lists.push({ type, rows: await q.vector(tx, ctx) });
      if (terms) lists.push({ type, rows: await q.text(tx, ctx) });
    }
    return lists;
  });

  const fused = new Map<string, SearchHit>();
  for (const { type, rows } of rankings) {
    rows.forEach((row, rank) => {
      const key = `${type}:${row.id}`;
      const hit = fused.get(key) ?? {
        type,
        id: row.id,
        score: 0,
        text: row.text,
        source: row.source,
      };
      hit.score += 1 / (RRF_K + rank + 1);
      fused.set(key, hit);
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    .slice(0, query.limit)
    .map((h) => ({ ...h, score: Number(h.score.toFixed(6)) }));
}

/**
 * The query's words as an OR tsquery (`'a' | 'b'`): a question matches
 * documents that share any of its words, ranked by how many and how close.
 * Undefined when the query has no words.
 */
export function tsqueryTerms(q: string): string | undefined {
  const words = [...new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 64))];
  return words.length > 0 ? words.map((w) => `'${w}'`).join(' | ') : undefined;
}

interface QueryContext {
  tenantId: string;
  userId: string | null;
  vector: string;
  terms: string | undefined;
  depth: number;
}

type Ranker = (tx: pg.PoolClient, ctx: QueryContext) => Promise<Candidate[]>;

/** Full-text matches ranked per query at most (see the chunks text ranker). */
const TEXT_MATCH_CAP = 2000;

const CHUNK_COLUMNS = `c.id, c.content, c.file_id, f.filename, c.ordinal, c.heading, c.page, c.start_offset, c.end_offset`;
const CHUNK_FILTER = `c.tenant_id = $1 and f.status = 'ready' and ($2::text is null or f.user_id is null or f.user_id = $2)`;

interface ChunkRow {
  id: string;
  content: string;
  file_id: string;
  filename: string;
  ordinal: number;
  heading: string | null;
  page: number | null;
  start_offset: number | null;
  end_offset: number | null;
}
const chunkCandidate = (r: ChunkRow): Candidate => ({
  id: r.id,
  text: r.content,
  source: {
    file_id: r.file_id,
    filename: r.filename,
    ordinal: r.ordinal,
    heading: r.heading,
    page: r.page,
    start_offset: r.start_offset,
    end_offset: r.end_offset,
  },
});

interface MemoryRow {
  id: string;
  content: string;
  user_id: string;
  category: string | null;
  created_at: Date;
}
const memoryCandidate = (r: MemoryRow): Candidate => ({
  id: r.id,
  text: r.content,
  source: { user_id: r.user_id, category: r.category, created_at: r.created_at },
});

interface MomentRow {
  id: string;
  title: string;
  summary: string;
  user_id: string;
  starts_at: Date | null;
  ends_at: Date | null;
}
const momentCandidate = (r: MomentRow): Candidate => ({
  id: r.id,
  text: `${r.title}: ${r.summary}`,
  source: { user_id: r.user_id, title: r.title, starts_at: r.starts_at, ends_at: r.ends_at },
});

interface MessageRow {
  id: string;
  content: string;
  session_id: string;
  role: string;
  created_at: Date;
}
const messageCandidate = (r: MessageRow): Candidate => ({
  id: r.id,
  text:
    r.content.length > MESSAGE_TEXT_CHARS
      ? `${r.content.slice(0, MESSAGE_TEXT_CHARS)}…`
      : r.content,
  source: { session_id: r.session_id, role: r.role, created_at: r.created_at },
});

const QUERIES: Record<SearchType, { vector?: Ranker; text: Ranker }> = {
  chunks: {
    vector: async (tx, c) =>
      (
        await tx.query<ChunkRow>(
          `select ${CHUNK_COLUMNS} from chunks c join files f on f.id = c.file_id
           where ${CHUNK_FILTER} and c.embedding is not null
           order by c.embedding <=> $3::vector limit $4`,
          [c.tenantId, c.userId, c.vector, c.depth],
        )
      ).rows.map(chunkCandidate),
    text: async (tx, c) =>
      (
        await tx.query<ChunkRow>(
          // Ranking is computed for at most TEXT_MATCH_CAP matches: a query of
          // common words must not rank a whole corpus (p95 over 100k chunks).
          `with query as (select to_tsquery('english', $3) q),
           matches as (
             select c.id, c.tsv from chunks c join files f on f.id = c.file_id, query
             where ${CHUNK_FILTER} and c.tsv @@ query.q limit $5)
           select ${CHUNK_COLUMNS} from matches m
             join chunks c on c.id = m.id join files f on f.id = c.file_id, query
           order by ts_rank_cd(m.tsv, query.q) desc, c.id limit $4`,
          [c.tenantId, c.userId, c.terms, c.depth, TEXT_MATCH_CAP],
        )
      ).rows.map(chunkCandidate),
  },
  memories: {
    vector: async (tx, c) =>
      (
        await tx.query<MemoryRow>(
          `select id, content, user_id, category, created_at from memories
           where tenant_id = $1 and ($2::text is null or user_id = $2) and valid_to is null
             and embedding is not null
           order by embedding <=> $3::vector limit $4`,
          [c.tenantId, c.userId, c.vector, c.depth],
        )
      ).rows.map(memoryCandidate),
    text: async (tx, c) =>
      (
        await tx.query<MemoryRow>(
          `select id, content, user_id, category, created_at from memories, to_tsquery('english', $3) query
           where tenant_id = $1 and ($2::text is null or user_id = $2) and valid_to is null
             and to_tsvector('english', content) @@ query
           order by ts_rank_cd(to_tsvector('english', content), query) desc, id limit $4`,
          [c.tenantId, c.userId, c.terms, c.depth],
        )
      ).rows.map(memoryCandidate),
  },
  moments: {
    vector: async (tx, c) =>
      (
        await tx.query<MomentRow>(
          `select id, title, summary, user_id, starts_at, ends_at from moments
           where tenant_id = $1 and ($2::text is null or user_id = $2) and embedding is not null
           order by embedding <=> $3::vector limit $4`,
          [c.tenantId, c.userId, c.vector, c.depth],
        )
      ).rows.map(momentCandidate),
    text: async (tx, c) =>
      (
        await tx.query<MomentRow>(
          `select id, title, summary, user_id, starts_at, ends_at from moments, to_tsquery('english', $3) query
           where tenant_id = $1 and ($2::text is null or user_id = $2)
             and to_tsvector('english', title || ' ' || summary) @@ query
           order by ts_rank_cd(to_tsvector('english', title || ' ' || summary), query) desc, id limit $4`,
          [c.tenantId, c.userId, c.terms, c.depth],
        )
      ).rows.map(momentCandidate),
  },
  messages: {
    text: async (tx, c) =>
      (
        await tx.query<MessageRow>(
          `select m.id, m.content, m.session_id, m.role, m.created_at
           from messages m join sessions s on s.id = m.session_id, to_tsquery('simple', $3) query
           where m.tenant_id = $1 and ($2::text is null or s.user_id = $2)
             and m.role in ('user', 'assistant') and to_tsvector('simple', m.content) @@ query
           order by ts_rank_cd(to_tsvector('simple', m.content), query) desc, m.id limit $4`,
          [c.tenantId, c.userId, c.terms, c.depth],
        )
      ).rows.map(messageCandidate),
  },
};
