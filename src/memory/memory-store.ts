/**
 * SQL of long-term memories. Every function takes the tenant and the user and
 * filters by both: memories are never shared across tenants or users.
 *
 * A memory keeps its id for life. An update archives the previous version as
 * a row of its own (`valid_to` set, `superseded_by` = the memory's id) and
 * rewrites the current row; a delete closes the current row (`valid_to`).
 * Every change is logged in `memory_changes`.
 *
 * One import path for all of it; the code lives by concern in memory-rows,
 * memory-reads, memory-search, memory-writes and memory-history.
 */

export {
  type ChangeSource,
  type MemoryChangeRow,
  type MemoryEvent,
  type MemoryRow,
  type Provenance,
  type ScoredMemory,
} from './memory-rows';
export { findCurrentByHash, getMemory, getMemoryAnyVersion, listMemories } from './memory-reads';
export {
  DEFAULT_EF_SEARCH,
  EXACT_SEARCH_MAX_ROWS,
  searchMemories,
  type SearchOptions,
} from './memory-search';
export {
  addMemory,
  clearUserMemories,
  deleteMemory,
  lockUserMemories,
  updateMemory,
  type NewMemory,
} from './memory-writes';
export { memoryHistory } from './memory-history';
