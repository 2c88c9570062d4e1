/** The shapes the memory pipeline takes in and hands back. */
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings/embedder';
import type { Logger } from '../logger';
import type { ModelRouter } from '../providers/model-router';

export interface MemoryDeps {
  pool: Pool;
  config: Config;
  embedder: Embedder;
  models: ModelRouter;
  log?: Logger;
}

export interface CandidateFact {
  text: string;
  category?: string | null;
}

export type MemoryResultEvent = 'ADD' | 'UPDATE' | 'DELETE' | 'NOOP';

/** What happened to one fact (mem0's result shape). */
export interface MemoryResult {
  id: string | null;
  memory: string;
  event: MemoryResultEvent;
  previous_memory?: string;
  /** Why: `duplicate` (same text), `similar` (cosine), `model`, `no_related`. */
  reason: string;
}

export interface MemoryUsage {
  prompt_tokens: number;
  completion_tokens: number;
  model_calls: number;
}

export interface RememberOutcome {
  results: MemoryResult[];
  usage: MemoryUsage;
}
