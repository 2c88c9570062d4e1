import type { BlobStore } from '../blob';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings';
import type { Logger } from '../logger';

/** What the ingestion of a file works with (the worker's clients, or a test's fakes). */
export interface IngestDeps {
  pool: Pool;
  blobs: BlobStore;
  embedder: Embedder;
  config: Config;
  log: Logger;
}

/** What every ingestion step acts on: ids only (claim check). */
export interface IngestIds {
  fileId: string;
  runId: string;
}
