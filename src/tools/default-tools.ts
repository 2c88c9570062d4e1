import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings/embedder';
import { createLookupTool } from './lookup-tool';
import { createSearchTool } from './search-tool';
import { ToolRegistry } from './tool-registry';

/**
 * The tools every turn offers. The worker runs them; the API builds the same
 * registry for `GET /v1/sessions/{id}/context`, so the preview counts the
 * same tool definitions the model is sent.
 */
export function createDefaultTools(pool: Pool, embedder: Embedder): ToolRegistry {
  return new ToolRegistry()
    .register(createLookupTool(pool))
    .register(createSearchTool(pool, embedder));
}
