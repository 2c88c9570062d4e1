import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings/embedder';
import type { Logger } from '../logger';
import { searchMemories } from './memory-store';

/** A memory as a turn's prompt (and the context preview) shows it. */
export interface RecalledMemory {
  id: string;
  content: string;
  category: string | null;
  score: number;
}

/**
 * The user's memories most relevant to `query` (top-k by HNSW, above the
 * configured similarity floor). An embeddings outage must not fail the turn:
 * it is logged and the turn goes on without memories.
 */
export async function recallMemories(
  deps: { pool: Pool; config: Config; embedder: Embedder; log?: Logger },
  input: { tenantId: string; userId: string; query: string },
): Promise<RecalledMemory[]> {
  const { recallLimit, recallMinScore } = deps.config.memory;
  if (recallLimit === 0) return [];
  try {
    const [vector] = await deps.embedder.embed([input.query]);
    const rows = await searchMemories(deps.pool, {
      tenantId: input.tenantId,
      userId: input.userId,
      vector,
      limit: recallLimit,
      minScore: recallMinScore,
    });
    return rows.map((r) => ({
      id: r.id,
      content: r.content,
      category: r.category,
      score: round(r.score),
    }));
  } catch (err) {
    deps.log?.warn(
      { err, userId: input.userId },
      'memory recall failed; the turn goes on without memories',
    );
    return [];
  }
}

function round(score: number): number {
  return Math.round(score * 1000) / 1000;
}
