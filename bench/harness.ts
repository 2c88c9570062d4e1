/**
 * The platform under benchmark, in this process: the embedded stack (Temporal
 * dev server + Postgres, or TEMPORAL_ADDRESS / DATABASE_URL), migrations, the
 * worker and the API, and a fake OpenAI-compatible provider with fixed pacing.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import OpenAI from 'openai';
import { DEFAULT_TENANT_ID, loadConfig, type Config } from '../src/config';
import { createApiKey } from '../src/db/api-keys';
import { migrate } from '../src/db/migrate';
import { createPool, type Pool } from '../src/db/pool';
import { createLogger } from '../src/logger';
import { startApi, type RunningApi } from '../src/server';
import { startStack, type Stack } from '../src/stack';
import { startWorker, type RunningWorker } from '../src/worker';
import { startFakeOpenAI, type FakeOpenAI, type StreamPacing } from '../test/helpers/fake-openai';
import { seededRandom, seededText, type Spread } from './stats';
import { silentLogger } from './silent-logger';

export const ROOT = path.resolve(__dirname, '..');
export const MODEL = 'fake-model';
export const TENANT_ID = DEFAULT_TENANT_ID;

/** Provider pacing of every benchmark: 50 ms to the first token, then 40 chunks 5 ms apart. */
export const PACING: Required<StreamPacing> = {
  firstTokenDelayMs: 50,
  tokenDelayMs: 5,
  chunkChars: 4,
};
export const ANSWER_CHUNKS = 40;

/** How much work a run does; `--quick` picks the small one. */
export interface Profile {
  name: 'quick' | 'full';
  /** Measured repetitions of every scenario (warm-up excluded). */
  reps: number;
  /** Streaming turns per repetition, each side (ttft). */
  ttftTurns: number;
  /** Concurrent sessions × sequential turns per repetition (throughput). */
  sessions: number;
  turns: number;
  /** Load duration per repetition, each side (health). */
  healthMs: number;
  /** Turns inspected for events and rows (footprint). */
  footprintTurns: number;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  quick: {
    name: 'quick',
    reps: 5,
    ttftTurns: 10,
    sessions: 10,
    turns: 3,
    healthMs: 1000,
    footprintTurns: 5,
  },
  full: {
    name: 'full',
    reps: 5,
    ttftTurns: 30,
    sessions: 50,
    turns: 10,
    healthMs: 5000,
    footprintTurns: 10,
  },
};

/** One line of the results table. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  /** Reverie's value over the repetitions. */
  reverie: Spread;
  /** Median of the baseline over the same repetitions. */
  baseline?: number;
  /** reverie.median / baseline for rates; absent for differences. */
  ratio?: number;
  /** e.g. `≤ 30 ms`, `≥ 0.5×`. */
  target?: string;
  pass?: boolean;
}

export interface Bench {
  profile: Profile;
  config: Config;
  /** API base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The in-process API's metrics (relay latency measured at the API). */
  apiMetrics: RunningApi['metrics'];
  apiKey: string;
  fake: FakeOpenAI;
  pool: Pool;
  temporal: Client;
  /** An openai client pointed at reverie (`/v1`). */
  reverie: OpenAI;
  /** An openai client pointed straight at the fake provider. */
  direct: OpenAI;
  /** RSS of this process after start-up and warm-up, before any scenario. */
  idleRss: number;
  stack: Stack;
  /** Scenarios already run, in order. */
  completed: string[];
  /** Deterministic prompt text for turn `i` of a workload. */
  prompt(i: number): string;
  close(): Promise<void>;
}

export const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

export function openaiClient(baseURL: string, apiKey: string): OpenAI {
  return new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
}

/** Start everything, run a few warm-up turns, and record the idle RSS. */
export async function startBench(profile: Profile): Promise<Bench> {
  const started = Date.now();
  const stack = await startStack({
    root: ROOT,
    mode: 'test',
    temporalAddress: nonEmpty(process.env.TEMPORAL_ADDRESS),
    databaseUrl: nonEmpty(process.env.DATABASE_URL),
    log: (line) => progress(`stack: ${line}`),
  });
  const cleanups: (() => Promise<unknown>)[] = [() => stack.stop()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const pool = createPool(stack.databaseUrl, 4);
    cleanups.push(() => pool.end());
    await migrate(pool, { log: () => undefined });

    const fake = await startFakeOpenAI();
    cleanups.push(() => fake.close());
    const text = seededText(seededRandom(42), 200).slice(0, ANSWER_CHUNKS * PACING.chunkChars);
    fake.setDefault({ kind: 'text', text, ...PACING });

    const bundle = await writeBundle();
    cleanups.push(() => rm(bundle, { force: true }));
    const config = loadConfig(
      {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_TASK_QUEUE: `bench-${randomUUID()}`,
        WORKFLOW_BUNDLE_PATH: bundle,
        OPENAI_API_KEY: 'bench',
        LLM_BASE_URL: fake.baseURL,
        LLM_MODEL: MODEL,
        BLOB_DIR: path.join(ROOT, '.reverie', 'bench-blobs'),
        // Limits stay on (their cost is part of every request) but never bind.
        RATE_RPS: '1000000',
        RATE_BURST: '100000000',
        MAX_CONCURRENT_TURNS: '100000',
        SSE_MAX_PER_KEY: '100000',
      },
      false,
    );
    const log = createLogger(config.logLevel);
    const worker: RunningWorker = await startWorker(config, log);
    cleanups.push(() => worker.shutdown());
    const api: RunningApi = await startApi(config, log, { localTemporal: worker.localClient });
    cleanups.push(() => api.close());

    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.temporal.namespace });
    const { key } = await createApiKey(pool, TENANT_ID, { name: 'bench' });

    const random = seededRandom(7);
    const prompts = Array.from({ length: 64 }, () => seededText(random, 12));
    const bench: Bench = {
      profile,
      config,
      url: api.url,
      apiMetrics: api.metrics,
      apiKey: key,
      fake,
      pool,
      temporal,
      reverie: openaiClient(`${api.url}/v1`, key),
      direct: openaiClient(fake.baseURL, 'bench'),
      idleRss: 0,
      stack,
      completed: [],
      prompt: (i) => prompts[i % prompts.length],
      close,
    };
    progress(`platform up in ${((Date.now() - started) / 1000).toFixed(1)} s (${api.url})`);
    await warmUp(bench);
    bench.idleRss = idleRss();
    return bench;
  } catch (err) {
    await close();
    throw err;
  }
}

/** A handful of turns so that JIT, pools and the session workflow path are warm. */
async function warmUp(bench: Bench): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const messages = [{ role: 'user' as const, content: bench.prompt(i) }];
    await bench.reverie.chat.completions.create({ model: MODEL, messages });
    const stream = await bench.reverie.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
    });
    for await (const _ of stream);
  }
}

/** RSS after letting the event loop settle (and a GC when run with --expose-gc). */
function idleRss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

async function writeBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: silentLogger,
  });
  const dir = path.join(ROOT, '.reverie', 'bundles');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `bench-${process.pid}.js`);
  await writeFile(file, code);
  return file;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
