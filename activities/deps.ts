import type { BlobStore } from '../src/blob';
import type { Config } from '../src/config';
import type { Pool } from '../src/db/pool';
import type { Embedder } from '../src/embeddings';
import type { Logger } from '../src/logger';
import type { ModelRouter } from '../src/providers/model-router';
import type { ToolRegistry } from '../src/tools/tool-registry';

/** Everything activities need; the worker builds it, tests may pass fakes. */
export interface ActivityDeps {
  pool: Pool;
  config: Config;
  models: ModelRouter;
  tools: ToolRegistry;
  log: Logger;
  /** Original files and derived artefacts (fs or S3). */
  blobs: BlobStore;
  embedder: Embedder;
}
