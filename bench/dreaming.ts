/**
 * `dreaming`: one user's 1k messages (500 in --quick) dreamt by the simulator:
 * wall time from start to finished run, and model calls per 50 messages.
 * Targets: ≤ 10 s and ≤ 1 model call per 50 messages.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEFAULT_TENANT_ID, loadConfig } from '../src/config';
import { createPool, type Pool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { startDreamRun } from '../src/dreaming/dream-service';
import { RunStarter } from '../src/runs/run-starter';
import { createLogger } from '../src/logger';
import { SIMULATOR_MODEL_ID } from '../src/providers/simulator';
import { startStack } from '../src/stack';
import { startWorker } from '../src/worker';
import { silentLogger } from './silent-logger';

const ROOT = path.resolve(__dirname, '..');
const TARGET_WALL_MS = 10_000;
const MESSAGES_PER_CALL = 50;

export interface DreamingBenchOptions {
  quick: boolean;
  /** An already running stack (bench/main.ts passes its own); otherwise one is started or taken from the environment. */
  stack?: { databaseUrl: string; temporalAddress: string };
}

/** Run the scenario; the record is what the bench report prints. */
export async function run(options: DreamingBenchOptions): Promise<Record<string, unknown>> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let stack = options.stack;
    if (!stack) {
      const started = await startStack({
        root: ROOT,
        mode: 'test',
        temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
        databaseUrl: process.env.DATABASE_URL || undefined,
        log: () => undefined,
      });
      cleanups.push(() => started.stop());
      stack = { databaseUrl: started.databaseUrl, temporalAddress: started.temporalAddress };
    }
    const pool = createPool(stack.databaseUrl, 4);
    cleanups.push(() => pool.end());
    await migrate(pool, { log: () => undefined });

    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: silentLogger,
    });
    const bundle = path.join(ROOT, '.reverie', 'bundles', `bench-dreaming-${process.pid}.js`);
    await mkdir(path.dirname(bundle), { recursive: true });
    await writeFile(bundle, code);
    cleanups.push(() => rm(bundle, { force: true }));
    const config = loadConfig(
      {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_TASK_QUEUE: `bench-dream-${randomUUID()}`,
        WORKFLOW_BUNDLE_PATH: bundle,
        DREAM_MODEL: SIMULATOR_MODEL_ID,
        SIMULATOR_TOKEN_DELAY_MS: '0',
      },
      false,
    );
    const worker = await startWorker(config, createLogger(config.logLevel));
    cleanups.push(() => worker.shutdown());
    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.temporal.namespace });

    const messages = options.quick ? 500 : 1000;
    const userId = `bench-dreamer-${randomUUID()}`;
    await seed(pool, userId, messages);

    const t0 = Date.now();
    const { run: started } = await startDreamRun(
      { runs: new RunStarter(pool), temporal, config, defaultModel: SIMULATOR_MODEL_ID },
      { tenantId: DEFAULT_TENANT_ID, userId, dryRun: false },
    );
    const outcome = (await temporal.workflow.getHandle(started.workflow_id!).result()) as {
      status: string;
    };
    const wallMs = Date.now() - t0;
    const run = await pool.query<{ usage: { model_calls?: number; total_tokens?: number } }>(
      'select usage from runs where id = $1',
      [started.id],
    );
    const counts = await pool.query<{
      moments: number;
      memories: number;
      links: number;
      profile: number;
    }>(
      `select (select count(*)::int from moments where user_id = $1) as moments,
              (select count(*)::int from memories where user_id = $1 and valid_to is null) as memories,
              (select count(*)::int from affinity_links where user_id = $1) as links,
              (select count(*)::int from user_profiles where user_id = $1) as profile`,
      [userId],
    );
    const calls = run.rows[0].usage.model_calls ?? 0;
    const callsPer50 = calls / (messages / MESSAGES_PER_CALL);
    return {
      scenario: 'dreaming',
      status: outcome.status,
      messages,
      wall_ms: wallMs,
      llm_calls: calls,
      llm_calls_per_50_messages: Math.round(callsPer50 * 100) / 100,
      tokens: run.rows[0].usage.total_tokens ?? 0,
      ...counts.rows[0],
      target_wall_ms: TARGET_WALL_MS,
      target_llm_calls_per_50_messages: 1,
      pass: outcome.status === 'succeeded' && wallMs <= TARGET_WALL_MS && callsPer50 <= 1,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** `count` messages in sessions of 100, a minute apart, topics changing every 25. */
async function seed(pool: Pool, userId: string, count: number): Promise<void> {
  const topics = [
    'temporal workflows and retries',
    'pgvector indexes and embeddings',
    'kayaking trips on weekends',
    'TypeScript generics and builds',
  ];
  let t = Date.now() - count * 60_000 - 3_600_000 * Math.ceil(count / 100) - 60_000;
  for (let s = 0; s * 100 < count; s++) {
    const sessionId = randomUUID();
    await pool.query('insert into sessions (id, tenant_id, user_id) values ($1, $2, $3)', [
      sessionId,
      DEFAULT_TENANT_ID,
      userId,
    ]);
    const n = Math.min(100, count - s * 100);
    const rows = Array.from({ length: n }, (_, i) => {
      const topic = topics[(s + Math.floor(i / 25)) % topics.length];
      t += 60_000;
      return {
        id: randomUUID(),
        role: i % 2 === 0 ? 'user' : 'assistant',
        content:
          i % 2 === 0
            ? `I use Reverie for ${topic}; question ${i} about ${topic}.`
            : `Here is how ${topic} works with Reverie.`,
        at: new Date(t).toISOString(),
      };
    });
    t += 3_600_000;
    await pool.query(
      `insert into messages (id, tenant_id, session_id, role, content, created_at)
       select x.id, $1, $2, x.role, x.content, x.at from unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) as x(id, role, content, at)`,
      [
        DEFAULT_TENANT_ID,
        sessionId,
        rows.map((r) => r.id),
        rows.map((r) => r.role),
        rows.map((r) => r.content),
        rows.map((r) => r.at),
      ],
    );
  }
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick') })
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(result.pass ? 0 : 1);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
