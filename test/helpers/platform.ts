import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEFAULT_TENANT_ID, loadConfig, type Config } from '../../src/config';
import { createPool, type Pool } from '../../src/db/pool';
import { startApi, type RunningApi } from '../../src/server';
import { startWorker, type RunningWorker } from '../../src/worker';
import { PROJECT_ROOT } from '../setup/stack-env';
import { createApiKey } from './test-secrets';
import { logPath, registerSecret, testLogger } from './test-logs';

let bundlePath: Promise<string> | undefined;

/** The workflow bundle, built once per test file (workers then start in ~0.5 s). */
export function workflowBundle(): Promise<string> {
  bundlePath ??= (async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      logger: {
        log: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
        debug: () => undefined,
        trace: () => undefined,
      },
    });
    const dir = path.join(PROJECT_ROOT, '.reverie', 'bundles');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `workflows-${process.pid}-${randomUUID().slice(0, 8)}.js`);
    await writeFile(file, code);
    return file;
  })();
  return bundlePath;
}

/**
 * Environment for a platform under test: the shared stack's addresses, a task
 * queue of its own (so parallel test files never steal each other's tasks),
 * and whatever the test overrides (e.g. LLM_BASE_URL of a fake provider).
 */
export async function platformEnv(
  overrides: Record<string, string> = {},
): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    WORKFLOW_BUNDLE_PATH: await workflowBundle(),
    SIMULATOR_TOKEN_DELAY_MS: '0',
    // Memory extraction after a turn must not take behaviours queued on a test's fake provider.
    MEMORY_MODEL: 'simulator',
    EVENT_BATCH_MS: '10',
    BLOB_DIR: path.join(PROJECT_ROOT, '.reverie', 'test-blobs'),
    // Limits high enough that no test is throttled unless it sets its own.
    RATE_RPS: '100000',
    RATE_BURST: '1000000',
    MAX_CONCURRENT_TURNS: '1000',
    ADMIN_TOKEN: `admin-${randomUUID()}`,
    ...overrides,
  };
  // The post-run log check searches for these (test/helpers/test-logs.ts).
  registerSecret('admin_token', env.ADMIN_TOKEN);
  // A provider key a test sets ('x', 'sk-test') is too short to search for: make it unique.
  if (env.OPENAI_API_KEY && env.OPENAI_API_KEY.length < 32) {
    env.OPENAI_API_KEY = `${env.OPENAI_API_KEY}-${randomUUID()}`;
    registerSecret('provider_api_key', env.OPENAI_API_KEY);
  }
  return env;
}

export interface Platform {
  url: string;
  /** An API key of the default tenant. */
  apiKey: string;
  /** An API key of a new tenant of its own: for tests whose assertions span a whole tenant. */
  newTenantKey(): Promise<string>;
  config: Config;
  /** A pool for assertions against the database. */
  pool: Pool;
  api: RunningApi;
  worker: RunningWorker;
  close(): Promise<void>;
}

/** API and worker in this process, on the shared stack. */
export async function startPlatform(overrides: Record<string, string> = {}): Promise<Platform> {
  const env = await platformEnv(overrides);
  const config = loadConfig(env, false);
  // Its own level: config.logLevel also sets the Temporal runtime's console logs.
  const log = testLogger('platform');
  const worker = await startWorker(config, log);
  const api = await startApi(config, log, { localTemporal: worker.localClient });
  const pool = createPool(config.databaseUrl!, 4);
  const { key } = await createApiKey(pool, DEFAULT_TENANT_ID, { name: 'test' });
  return {
    url: api.url,
    apiKey: key,
    async newTenantKey() {
      const tenantId = randomUUID();
      await pool.query('insert into tenants (id, name) values ($1, $2)', [
        tenantId,
        `test-${tenantId}`,
      ]);
      return (await createApiKey(pool, tenantId, { name: 'test' })).key;
    },
    config,
    pool,
    api,
    worker,
    async close() {
      await api.close();
      await worker.shutdown();
      await pool.end();
    },
  };
}

/**
 * A `reverie api` or `reverie worker` as a real process, to kill -9 in crash
 * tests. Its stdout and stderr are also written to this run's logs (an API
 * logs at debug by default, so its request lines are checked for secrets).
 */
export interface ReverieProcess {
  child: ChildProcess;
  /** For `api`: its base URL once listening. */
  url?: string;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnReverie(
  command: 'api' | 'worker',
  env: Record<string, string>,
  options: { logLevel?: string } = {},
): Promise<ReverieProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'reverie.js'), command], {
    cwd: PROJECT_ROOT,
    env: { ...env, LOG_LEVEL: options.logLevel ?? (command === 'api' ? 'debug' : 'info') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const file = createWriteStream(logPath(command, command));
  child.stdout.pipe(file, { end: false });
  child.stderr.pipe(file, { end: false });
  let output = '';
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => file.end(() => resolve())),
  );
  const ready = new Promise<string | undefined>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /"url":"(http:\/\/[^"]+)".*"msg":"api listening"/.exec(output);
      if (command === 'api' && listening) resolve(listening[1]);
      if (command === 'worker' && output.includes('"msg":"worker started"')) resolve(undefined);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`reverie ${command} exited (${code}) before it was ready:\n${output}`)),
    );
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`reverie ${command} not ready in 60 s:\n${output}`)),
      60_000,
    ).unref(),
  );
  const url = await Promise.race([ready, timeout]);
  return {
    child,
    url,
    output: () => output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A pool on the shared stack's database. */
export function testPool(): Pool {
  return createPool(process.env.DATABASE_URL!, 4);
}
