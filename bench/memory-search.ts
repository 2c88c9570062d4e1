/**
 * Memory benchmark: search latency (p50/p95) of the production query
 * (`searchMemories`: HNSW, tenant+user filter, iterative scans) over 100k
 * memories at 384 and 1536 dimensions, with recall@10 against exact search in
 * the same run; and the prompt tokens of a 200-turn session, compressed vs full.
 *
 * Each dimension gets a scratch schema with its own `memories` table (the
 * production table's dimension is fixed by migration); the production query
 * runs against it through `search_path`. Vectors are generated in Postgres:
 * clustered around 500 centroids (real embeddings cluster; uniform random
 * vectors are a worst case no index meets).
 *
 * `run({quick})` sets nothing global; it uses DATABASE_URL or starts the
 * embedded stack, and drops its schemas at the end.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DEFAULT_TENANT_ID, loadConfig } from '../src/config';
import type { MessageRow } from '../src/db/messages';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { toVectorLiteral } from '../src/embeddings/embedder';
import { searchMemories } from '../src/memory/memory-store';
import { buildPrompt } from '../src/prompt/build-prompt';
import { compressHistory } from '../src/prompt/compress-history';
import { countMessageTokens } from '../src/prompt/token-count';
import { startStack, type Stack } from '../src/stack';
import { percentile, seededRandom } from './stats';
import path from 'node:path';

export interface MemoryBenchOptions {
  quick: boolean;
  /** Defaults to DATABASE_URL, else an embedded stack is started. */
  databaseUrl?: string;
  log?: (line: string) => void;
}

const HEAVY_USER = 'heavy';
const SMALL_USERS = 100;
const CENTROIDS = 500;
const NOISE_VECTORS = 2000;
/** Spread of a memory around its centroid (per dimension, centroids span 1). */
const NOISE = 0.35;
const EF_VALUES = [40, 100, 200];

export async function run(options: MemoryBenchOptions): Promise<Record<string, unknown>> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench:memory] ${line}\n`));
  let stack: Stack | undefined;
  let databaseUrl = options.databaseUrl ?? loadConfig(process.env, false).databaseUrl;
  if (!databaseUrl) {
    stack = await startStack({ root: path.resolve(__dirname, '..'), mode: 'test', log });
    databaseUrl = stack.databaseUrl;
  }
  const pool = createPool(databaseUrl, 4);
  const results: Record<string, unknown> = {};
  try {
    // Our tables copy the production table's shape.
    await migrate(pool, {
      variables: { EMBEDDING_DIM: loadConfig(process.env, false).embeddingDim },
    });
    const memories = options.quick ? 10_000 : 100_000;
    const queries = options.quick ? 100 : 300;
    for (const dim of [384, 1536]) {
      Object.assign(results, await searchBench(pool, { dim, memories, queries, log }));
    }
    Object.assign(results, promptTokens());
  } finally {
    await pool.end();
    await stack?.stop();
  }
  return results;
}

async function searchBench(
  pool: pg.Pool,
  o: { dim: number; memories: number; queries: number; log: (line: string) => void },
): Promise<Record<string, unknown>> {
  const schema = `bench_memory_${o.dim}_${randomUUID().slice(0, 8)}`;
  const client = await pool.connect();
  const prefix = `memory_search_${o.dim}d`;
  try {
    const t0 = Date.now();
    await client.query(`create schema ${schema}`);
    await client.query(`set search_path to ${schema}, public`);
    // The production table's columns and defaults, at this dimension, without its foreign keys.
    await client.query(`create table memories (like public.memories including defaults)`);
    await client.query(`alter table memories alter column embedding type vector(${o.dim})`);
    // Centroids and a pool of noise vectors, from a seeded PRNG; each memory is
    // normalise(centroid + noise) for a pair picked by hashing its number.
    const random = seededRandom(o.dim);
    const draw = (scale: number) => Array.from({ length: o.dim }, () => (random() - 0.5) * scale);
    const centroids = Array.from({ length: CENTROIDS }, () => draw(1));
    await client.query('create temporary table centroids (c int primary key, v vector)');
    await client.query('create temporary table noise (n int primary key, v vector)');
    for (const [table, vectors] of [
      ['centroids', centroids],
      ['noise', Array.from({ length: NOISE_VECTORS }, () => draw(NOISE))],
    ] as const) {
      for (let i = 0; i < vectors.length; i += 250) {
        const slice = vectors.slice(i, i + 250).map(toVectorLiteral);
        await client.query(
          `insert into ${table} select i - 1 + $2, v::vector from unnest($1::text[]) with ordinality as t(v, i)`,
          [slice, i],
        );
      }
    }
    const batch = 20_000;
    for (let start = 0; start < o.memories; start += batch) {
      // Half the memories belong to one heavy user (the HNSW path), half to 100 others;
      // one in twenty is a superseded version the filter must skip.
      await client.query(
        `insert into memories (id, tenant_id, user_id, content, content_hash, embedding, valid_to)
         select gen_random_uuid(), $1, case when i % 2 = 0 then $2 else 'u' || ((i / 2) % ${SMALL_USERS}) end,
                'memory ' || i, md5(i::text), l2_normalize(c.v + n.v),
                case when (hashint4(i + 104729) & 2147483647) % 20 = 0 then now() end
         from generate_series($3::int, $4::int) i
         join centroids c on c.c = (hashint4(i) & 2147483647) % ${CENTROIDS}
         join noise n on n.n = (hashint4(i + 7919) & 2147483647) % ${NOISE_VECTORS}`,
        [DEFAULT_TENANT_ID, HEAVY_USER, start, Math.min(start + batch, o.memories) - 1],
      );
    }
    const loaded = Date.now();
    await client.query(`set maintenance_work_mem = '1GB'`);
    await client.query('set max_parallel_maintenance_workers = 3');
    await client.query('create index on memories using hnsw (embedding vector_cosine_ops)');
    await client.query('create index on memories (tenant_id, user_id) where valid_to is null');
    await client.query('vacuum analyze memories');
    const indexed = Date.now();
    o.log(
      `${o.dim}-d: ${o.memories} memories loaded in ${((loaded - t0) / 1000).toFixed(1)} s, HNSW built in ${((indexed - loaded) / 1000).toFixed(1)} s`,
    );

    // Queries: fresh points near random centroids (deterministic).
    const queryVectors = Array.from({ length: o.queries }, () => {
      const c = centroids[Math.floor(random() * centroids.length)];
      const v = c.map((x) => x + (random() - 0.5) * NOISE);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });

    const out: Record<string, unknown> = {
      [`${prefix}_memories`]: o.memories,
      [`${prefix}_index_build_s`]: (indexed - loaded) / 1000,
    };
    for (const [label, userOf] of [
      ['heavy_user', () => HEAVY_USER],
      ['small_user', (i: number) => `u${(i * 7) % SMALL_USERS}`],
    ] as const) {
      const exact: string[][] = [];
      for (const [i, q] of queryVectors.entries())
        exact.push(await exactTop10(client, userOf(i), q));
      for (const ef of EF_VALUES) {
        const latencies: number[] = [];
        let recall = 0;
        // Warm-up: the first queries pay for cold pages.
        for (const q of queryVectors.slice(0, 20))
          await searchMemories(client, {
            tenantId: DEFAULT_TENANT_ID,
            userId: userOf(0),
            vector: q,
            limit: 10,
            efSearch: ef,
          });
        for (const [i, q] of queryVectors.entries()) {
          const started = process.hrtime.bigint();
          const hits = await searchMemories(client, {
            tenantId: DEFAULT_TENANT_ID,
            userId: userOf(i),
            vector: q,
            limit: 10,
            efSearch: ef,
          });
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          const truth = new Set(exact[i]);
          recall += truth.size === 0 ? 1 : hits.filter((h) => truth.has(h.id)).length / truth.size;
        }
        const key = `${prefix}_${label}_ef${ef}`;
        const p50 = round(percentile(latencies, 50));
        const p95 = round(percentile(latencies, 95));
        const recallAt10 = round(recall / queryVectors.length, 4);
        out[`${key}_p50_ms`] = p50;
        out[`${key}_p95_ms`] = p95;
        out[`${key}_recall_at_10`] = recallAt10;
        o.log(
          `${o.dim}-d ${label} ef_search=${ef}: p50 ${p50} ms, p95 ${p95} ms, recall@10 ${recallAt10}`,
        );
      }
    }
    return out;
  } finally {
    await client.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await client.query('discard all').catch(() => undefined);
    client.release();
  }
}

/** The true top 10 (no index): what recall is measured against. */
async function exactTop10(
  client: pg.PoolClient,
  userId: string,
  vector: number[],
): Promise<string[]> {
  await client.query('begin; set local enable_indexscan = off; set local enable_bitmapscan = off');
  try {
    const res = await client.query<{ id: string }>(
      `select id from memories where tenant_id = $1 and user_id = $2 and valid_to is null
       order by embedding <=> $3::vector limit 10`,
      [DEFAULT_TENANT_ID, userId, toVectorLiteral(vector)],
    );
    return res.rows.map((r) => r.id);
  } finally {
    await client.query('commit');
  }
}

/** Prompt tokens of a 200-turn session: whole history vs compressed (default settings). */
function promptTokens(): Record<string, unknown> {
  const config = loadConfig({}, false);
  const random = seededRandom(200);
  const vocabulary =
    'the agent keeps durable memory of every session and streams tokens while workflows replay events from the log so a crash never loses a turn'.split(
      ' ',
    );
  const text = (words: number) =>
    Array.from({ length: words }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(
      ' ',
    );
  const history: MessageRow[] = [];
  for (let turn = 0; turn < 200; turn++) {
    for (const [role, words] of [
      ['user', 20 + Math.floor(random() * 60)],
      ['assistant', 80 + Math.floor(random() * 320)],
    ] as const) {
      history.push({
        id: randomUUID(),
        tenant_id: DEFAULT_TENANT_ID,
        session_id: 's',
        run_id: `run-${turn}`,
        seq: history.length + 1,
        role,
        content: text(words),
        tool_calls: null,
        tool_call_id: null,
        status: 'completed',
        incomplete_reason: null,
        usage: null,
        idem_key: null,
        created_at: new Date(0),
      });
    }
  }
  const model = 'gpt-4o-mini';
  const count = (messages: ReturnType<typeof buildPrompt>) =>
    messages.reduce((n, m) => n + countMessageTokens(m, model), 0);
  const full = count(
    buildPrompt({ systemPrompt: config.systemPrompt, sessionId: 's', turnSystem: [], history }),
  );
  const compress = (budgetTokens: number) =>
    compressHistory(history, {
      model,
      sessionId: 's',
      currentRunId: 'run-199',
      recentMessages: config.prompt.recentMessages,
      messageMaxChars: config.prompt.messageMaxChars,
      recentMaxChars: config.prompt.recentMaxChars,
      budgetTokens,
    });
  const system = countMessageTokens(
    { role: 'system', content: `${config.systemPrompt}\n\nSession: s` },
    model,
  );
  const compressedOnly = system + compress(Number.MAX_SAFE_INTEGER).tokens;
  const withBudget = system + compress(config.prompt.tokenBudget - system).tokens;
  return {
    prompt_tokens_200_turns_full: full,
    prompt_tokens_200_turns_compressed: compressedOnly,
    prompt_tokens_200_turns_compressed_ratio: round(compressedOnly / full, 3),
    prompt_tokens_200_turns_budgeted: withBudget,
    prompt_tokens_200_turns_budgeted_ratio: round(withBudget / full, 3),
    prompt_token_budget: config.prompt.tokenBudget,
  };
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  run({ quick }).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The `memory` scenario of `npm run bench`: the headline numbers as report rows, against the targets. */
export async function memoryScenario(bench: {
  profile: { name: string };
  stack: { databaseUrl: string };
}): Promise<
  {
    scenario: string;
    metric: string;
    unit: string;
    reverie: { min: number; median: number; max: number };
    target?: string;
    pass?: boolean;
  }[]
> {
  const r = await run({
    quick: bench.profile.name === 'quick',
    databaseUrl: bench.stack.databaseUrl,
  });
  const once = (v: unknown) => ({ min: Number(v), median: Number(v), max: Number(v) });
  const n = String(r.memory_search_384d_memories);
  const rows = [];
  for (const [dim, maxMs] of [
    [384, 5],
    [1536, 10],
  ] as const) {
    const key = `memory_search_${dim}d_heavy_user_ef100`;
    const p95 = Number(r[`${key}_p95_ms`]);
    const recall = Number(r[`${key}_recall_at_10`]);
    rows.push(
      {
        scenario: 'memory',
        metric: `search p50, ${dim}-d, ${n} memories`,
        unit: 'ms',
        reverie: once(r[`${key}_p50_ms`]),
      },
      {
        scenario: 'memory',
        metric: `search p95, ${dim}-d, ${n} memories`,
        unit: 'ms',
        reverie: once(p95),
        target: `≤ ${maxMs} ms`,
        pass: p95 <= maxMs,
      },
      {
        scenario: 'memory',
        metric: `recall@10 vs exact, ${dim}-d`,
        unit: '',
        reverie: once(recall),
        target: '≥ 0.95',
        pass: recall >= 0.95,
      },
      {
        scenario: 'memory',
        metric: `search p95, ${dim}-d, user with 0.5% of rows (exact)`,
        unit: 'ms',
        reverie: once(r[`memory_search_${dim}d_small_user_ef100_p95_ms`]),
      },
    );
  }
  rows.push({
    scenario: 'memory',
    metric: 'prompt tokens, 200-turn session, compressed / full',
    unit: '×',
    reverie: once(r.prompt_tokens_200_turns_compressed_ratio),
  });
  rows.push({
    scenario: 'memory',
    metric: `prompt tokens, 200-turn session, within budget / full`,
    unit: '×',
    reverie: once(r.prompt_tokens_200_turns_budgeted_ratio),
  });
  return rows;
}
