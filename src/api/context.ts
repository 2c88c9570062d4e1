import type Koa from 'koa';
import type { Authenticator } from '../auth/authenticator';
import type { RateLimits } from '../limits/rate-limits';
import type { BlobStore } from '../blob';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import type { ModelRouter } from '../providers/model-router';
import type { DreamingService } from '../dreaming/dream-service';
import type { FileService } from '../files/file-service';
import type { MemoryExtractionService } from '../memory/extraction-service';
import type { TurnService } from '../turns/turn-service';
import type { Principal } from './middleware/auth';
import type { ApiMetrics } from './middleware/metrics';

/** What the routes use; built once by the server's composition root. */
export interface ApiDeps {
  config: Config;
  pool: Pool;
  hub: EventHub;
  models: ModelRouter;
  /** Every run starts through one of these (they share one RunStarter). */
  turns: TurnService;
  files: FileService;
  dreaming: DreamingService;
  memoryExtraction: MemoryExtractionService;
  metrics: ApiMetrics;
  log: Logger;
  /** Readiness of Temporal (a cheap round trip). */
  checkTemporal: () => Promise<unknown>;
  /** Readiness of the blob store (the embedded default is the filesystem). */
  checkBlobStore: () => Promise<void>;
  /** Uploaded files (fs or S3). */
  blobs: BlobStore;
  /** Resolves each request's caller (keys cached per process, JWTs, ADMIN_TOKEN). */
  auth: Authenticator;
  /** Request limits shared by every replica (Postgres), with the bypass list. */
  limits: RateLimits;
  /** Embeds search queries (the same embedder the worker stores chunks with). */
  embedder: Embedder;
}

export interface ApiState {
  requestId: string;
  log: Logger;
  principal: Principal;
}

export type ApiContext = Koa.ParameterizedContext<ApiState>;
