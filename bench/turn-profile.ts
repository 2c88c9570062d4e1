/**
 * Where a turn's cost goes, for profiling work on issue #12 (not a scenario):
 * N streaming turns, one at a time or `--lanes` at once, then per turn the
 * CPU of every process, the SQL statements the platform sent (by text), and
 * the Temporal history events of one turn.
 *   node -r tsx/cjs bench/turn-profile.ts [--turns 40] [--lanes 1] [--sql]
 *   node -r tsx/cjs bench/turn-profile.ts --prof   (main thread, measured turns only)
 *   node -r tsx/cjs bench/profile-summary.ts /tmp/turn-profile.cpuprofile
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import pg from 'pg';
import { turnWorkflowId } from '../workflows/session.workflow';
import { PROFILES, progress, startBench } from './harness';
import { serverUsage } from './procfs';
import { percentile } from './stats';

const statements = new Map<string, number>();
let counting = false;
const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (counting) {
    const first = args[0] as string | { text?: string; name?: string };
    const text = typeof first === 'string' ? first : (first?.text ?? first?.name ?? '?');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 110);
    statements.set(key, (statements.get(key) ?? 0) + 1);
  }
  return original.apply(this, args);
} as typeof pg.Client.prototype.query;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const turns = flag('--turns', 40);
  const lanes = flag('--lanes', 1);
  const bench = await startBench(PROFILES.quick);
  try {
    const cpu = async () => {
      const { user, system } = process.cpuUsage();
      const m = new Map([['node (api+worker+load)', (user + system) / 1000]]);
      for (const [k, u] of await serverUsage(bench.stack.processGroups)) m.set(k, u.cpuMs);
      return m;
    };
    const ttfts: number[] = [];
    let lastSession: string | undefined;
    const inspector = process.argv.includes('--prof') ? new Session() : undefined;
    if (inspector) {
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.start');
    }
    const before = await cpu();
    counting = true;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = 0; i < turns / lanes; i++) {
          const t0 = performance.now();
          const { data: stream, response } = await bench.reverie.chat.completions
            .create({
              model: 'fake-model',
              messages: [{ role: 'user', content: bench.prompt(lane * 100 + i) }],
              stream: true,
            })
            .withResponse();
          let first = Number.NaN;
          for await (const chunk of stream)
            if (Number.isNaN(first) && chunk.choices[0]?.delta.content)
              first = performance.now() - t0;
          ttfts.push(first);
          lastSession = response.headers.get('x-session-id') ?? lastSession;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    counting = false;
    const after = await cpu();
    if (inspector) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync('/tmp/turn-profile.cpuprofile', JSON.stringify(profile));
      progress('main-thread profile of the measured turns: /tmp/turn-profile.cpuprofile');
    }
    progress(
      `${turns} turns, ${lanes} lanes: ${(turns / seconds).toFixed(1)} turns/s, TTFT p50 ${percentile(ttfts, 50).toFixed(1)} p95 ${percentile(ttfts, 95).toFixed(1)} ms`,
    );
    for (const [k, v] of after)
      progress(`CPU/turn ${k}: ${((v - (before.get(k) ?? 0)) / turns).toFixed(1)} ms`);
    const marks = ((globalThis as { __marks?: [string, number][] }).__marks ?? []).slice();
    if (marks.length > 0) {
      const offsets = new Map<string, number[]>();
      let start = 0;
      let seen = new Set<string>();
      for (const [label, t] of marks) {
        if (label === 'api.route') {
          start = t;
          seen = new Set();
        }
        if (seen.has(label)) continue;
        seen.add(label);
        offsets.set(label, [...(offsets.get(label) ?? []), t - start]);
      }
      for (const [label, list] of offsets)
        progress(`  mark ${label.padEnd(14)} p50 +${percentile(list, 50).toFixed(1)} ms`);
    }
    const total = [...statements.values()].reduce((a, b) => a + b, 0);
    progress(`SQL statements/turn: ${(total / turns).toFixed(1)}`);
    if (process.argv.includes('--sql'))
      for (const [text, n] of [...statements].sort((a, b) => b[1] - a[1]))
        progress(`  ${(n / turns).toFixed(2).padStart(6)}  ${text}`);
    // Updates that had to touch every index (not HOT) cost Postgres far more than HOT ones.
    const tables = await bench.pool.query<{
      relname: string;
      upd: string;
      hot: string;
      ins: string;
    }>(
      `select relname, n_tup_upd as upd, n_tup_hot_upd as hot, n_tup_ins as ins
       from pg_stat_user_tables where relname in ('runs', 'run_events', 'sessions', 'messages')`,
    );
    for (const t of tables.rows)
      progress(`  table ${t.relname.padEnd(10)} inserts ${t.ins}, updates ${t.upd} (HOT ${t.hot})`);
    const run = await bench.pool.query<{ id: string; tenant_id: string }>(
      `select id, tenant_id from runs where session_id = $1 order by created_at desc limit 1`,
      [lastSession],
    );
    const id = run.rows[0]?.id;
    if (id) {
      const handle = bench.temporal.workflow.getHandle(turnWorkflowId(run.rows[0].tenant_id, id));
      const history = await handle.fetchHistory().catch(() => undefined);
      const events = history?.events ?? [];
      progress(`history events of one turn: ${events.length}`);
      const t0 =
        Number(events[0]?.eventTime?.seconds ?? 0) * 1000 +
        (events[0]?.eventTime?.nanos ?? 0) / 1e6;
      progress(
        `  ${events
          .map((e) => {
            const t = Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
            return `${String(e.eventType)}@${(t - t0).toFixed(1)}`;
          })
          .join(' ')}`,
      );
    }
  } finally {
    await bench.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
