import type { Client } from '@temporalio/client';
import type Koa from 'koa';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import type { ModelRouter } from '../providers/model-router';
import type { TurnService } from '../turns/turn-service';
import type { Principal } from './middleware/auth';
import type { ApiMetrics } from './middleware/metrics';

/** What the routes use; built once by the server's composition root. */
export interface ApiDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  hub: EventHub;
  models: ModelRouter;
  turns: TurnService;
  metrics: ApiMetrics;
  log: Logger;
  /** Readiness of the blob store (the embedded default is the filesystem). */
  checkBlobStore: () => Promise<void>;
}

export interface ApiState {
  requestId: string;
  log: Logger;
  principal: Principal;
}

export type ApiContext = Koa.ParameterizedContext<ApiState>;
