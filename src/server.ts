import type { Client } from '@temporalio/client';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './api/app';
import { Authenticator } from './auth/authenticator';
import { RateLimits } from './limits/rate-limits';
import { ApiMetrics } from './api/middleware/metrics';
import { createBlobStore, S3BlobStore } from './blob';
import type { Config } from './config';
import { createPool } from './db/pool';
import { createEmbedder } from './embeddings';
import { EventHub } from './events/event-hub';
import type { Logger } from './logger';
import { ModelRouter } from './providers/model-router';
import { SCRIPTED_RESPONDERS } from './scripted-responders';
import { connectClient } from './temporal/client';
import { OrphanRunSweeper } from './turns/orphan-sweeper';
import { TurnStarter } from './turns/turn-starter';
import { TurnService } from './turns/turn-service';
import { DreamingService } from './dreaming/dream-service';
import { FileService } from './files/file-service';
import { MemoryExtractionService } from './memory/extraction-service';
import { RunStarter } from './runs/run-starter';

export interface RunningApi {
  url: string;
  server: http.Server;
  /** This process's metrics (what `/metrics` serves). */
  metrics: ApiMetrics;
  close(): Promise<void>;
}

/** What an API shares with a worker running in the same process (`reverie dev`, the bench). */
export interface ApiOptions {
  /** A client on that worker's connection: turns start eagerly on it. */
  localTemporal?: Client;
}

/** Composition root of the API process: pool, Temporal client, LISTEN hub, Koa. */
export async function startApi(
  config: Config,
  log: Logger,
  options: ApiOptions = {},
): Promise<RunningApi> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  const pool = createPool(config.databaseUrl, config.databasePoolMax);
  const temporal = await connectClient(config);
  const hub = new EventHub(config.databaseUrl, log);
  const auth = new Authenticator(pool, config, log);
  // Revocations and tenant changes arrive on the hub's one LISTEN connection.
  auth.listen(hub);
  const limits = new RateLimits(
    pool,
    config.rateLimits,
    { maxPerCaller: config.security.sseMaxPerKey, renewMs: config.security.sseLeaseRenewMs },
    log,
  );
  limits.listen(hub);
  await hub.start();
  const blobs = createBlobStore(config);
  // A development MinIO starts without the bucket; a missing one is created once.
  if (blobs instanceof S3BlobStore)
    await blobs
      .ensureBucket()
      .catch((err: Error) => log.warn({ err: err.message }, 'blob bucket not ready'));
  const turnStarter = new TurnStarter(temporal, config, options.localTemporal);
  const sweeper = new OrphanRunSweeper(pool, temporal, log, undefined, turnStarter);
  sweeper.start();
  const metrics = new ApiMetrics();
  const models = new ModelRouter(config, SCRIPTED_RESPONDERS);
  const runs = new RunStarter(pool);
  const app = createApp({
    config,
    pool,
    hub,
    models,
    turns: new TurnService(pool, runs, temporal, config, turnStarter),
    files: new FileService(pool, runs, temporal, blobs, config),
    dreaming: new DreamingService({ runs, temporal, config, defaultModel: models.defaultModel }),
    memoryExtraction: new MemoryExtractionService(runs, temporal, config),
    metrics,
    log,
    checkTemporal: () => temporal.workflowService.getSystemInfo({}),
    checkBlobStore: () => blobs.check(),
    blobs,
    embedder: createEmbedder(config),
    auth,
    limits,
  });
  const handle = app.callback();
  const server = http.createServer(
    { maxHeaderSize: config.security.maxHeaderBytes },
    (req, res) => void handle(req, res),
  );
  // SSE streams are long-lived; the defaults would cut them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info({ url }, 'api listening');
  return {
    url,
    server,
    metrics,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sweeper.stop();
      await limits.sse.close();
      await auth.lastUsed.flush();
      await hub.stop();
      await temporal.connection.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}
