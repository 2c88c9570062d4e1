import type { BlobStore } from '../src/blob';
import type { Config } from '../src/config';
import type { Pool } from '../src/db/pool';
import type { Embedder } from '../src/embeddings';
import type { Logger } from '../src/logger';
import type { ModelRouter } from '../src/providers/model-router';
import type { ToolRegistry } from '../src/tools/tool-registry';
import type { RunRow } from '../src/db/runs';

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
  /**
   * Starts the turn a finishing turn handed its session to (src/turns/turn-starter.ts,
   * by shape: the workflows it starts import activities' types). Absent (tests with
   * fakes): the orphan sweeper starts it.
   */
  turnStarter?: {
    start(run: Pick<RunRow, 'id' | 'tenant_id' | 'session_id' | 'user_id'>): Promise<void>;
  };
}
