import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { createBlobStore } from './blob';
import type { Config } from './config';
import { createPool } from './db/pool';
import { createEmbedder } from './embeddings';
import type { Logger } from './logger';
import { ModelRouter } from './providers/model-router';
import { SCRIPTED_RESPONDERS } from './scripted-responders';
import { connectWorker } from './temporal/worker-connection';
import { connectClient } from './temporal/client';
import { TurnStarter } from './turns/turn-starter';
import { createDefaultTools } from './tools/default-tools';

export interface RunningWorker {
  /**
   * A Temporal client on the worker's own connection: an API in the same
   * process starts turns through it eagerly (`startApi`'s `localTemporal`).
   * Closed with the worker.
   */
  localClient: Client;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** How the worker is sized for streaming turns (the bench's floor baseline runs with the same). */
export const TURN_WORKER_TUNING = {
  // Streams spend their time waiting on the network, not the CPU.
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentLocalActivityExecutions: 200,
  // A turn's workflow task stays open while its model step (a local
  // activity) streams: one task slot per streaming turn, not the default 40.
  maxConcurrentWorkflowTaskExecutions: 200,
  // A crashed worker's sticky queue would hold its workflows' next task for
  // the default 10 s; fall back to the shared queue sooner.
  stickyQueueScheduleToStartTimeout: '2 seconds',
} satisfies Partial<WorkerOptions>;

/**
 * Composition root of the worker process: builds the pool, providers and tools,
 * and polls task queue `reverie` until shut down.
 */
export async function startWorker(config: Config, log: Logger): Promise<RunningWorker> {
  installRuntime(config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  const pool = createPool(config.databaseUrl, config.databasePoolMax);
  const embedder = createEmbedder(config);
  const tools = createDefaultTools(pool, embedder);
  // A finishing turn starts the next queued turn of its session (hand-off),
  // eagerly on this worker (a client on its own connection).
  const client = await connectClient(config);
  const connection = await connectWorker(config);
  const localClient = new Client({ connection, namespace: config.temporal.namespace });
  const activities = createActivities({
    turnStarter: new TurnStarter(client, config, localClient),
    pool,
    config,
    models: new ModelRouter(config, SCRIPTED_RESPONDERS),
    tools,
    log,
    embedder,
    blobs: createBlobStore(config),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(config.workflowBundlePath
      ? { workflowBundle: { codePath: config.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities,
    ...TURN_WORKER_TUNING,
    shutdownGraceTime: '10 seconds',
  });
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
  const done = worker.run().finally(async () => {
    await connection.close().catch(() => undefined);
    await client.connection.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  });
  return {
    localClient,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

let runtimeInstalled = false;

/** The SDK's own logs at our level (it logs every bundle build at INFO otherwise). */
function installRuntime(level: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const map: Record<string, LogLevel> = {
    trace: 'TRACE',
    debug: 'DEBUG',
    info: 'WARN',
    warn: 'WARN',
  };
  try {
    Runtime.install({ logger: new DefaultLogger(map[level] ?? 'ERROR') });
  } catch {
    // Already installed by the host process (tests); keep theirs.
  }
}
