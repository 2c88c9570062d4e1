/**
 * Row types of long-term memories and their change log, shared by the
 * reads, writes, search and history modules.
 */

/** A row of `memories`: current (`valid_to` null), archived or deleted. */
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

/** A memory found by similarity. */
export interface ScoredMemory extends MemoryRow {
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
}

/** What a change did to a memory. */
export type MemoryEvent = 'ADD' | 'UPDATE' | 'DELETE';
/** Where a change came from: turn extraction, the API, or dreaming. */
export type ChangeSource = 'extraction' | 'api' | 'dreaming';

/** A row of `memory_changes`: one change of one memory. */
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

/** The columns of a `MemoryRow`, in select lists. */
export const MEMORY_COLUMNS = `id, tenant_id, user_id, content, content_hash, category, metadata, valid_from, valid_to,
  superseded_by, source_run_id, source_message_ids, created_at, updated_at`;
