import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings';
import type { Logger } from '../logger';
import type { ModelRouter } from '../providers/model-router';

/** What the stages of a dreaming run work with (the worker's clients, or a test's fakes). */
export interface DreamDeps {
  pool: Pool;
  config: Config;
  models: ModelRouter;
  embedder: Embedder;
  log: Logger;
}
