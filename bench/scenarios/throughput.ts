/**
 * `throughput`: N concurrent sessions, each sending M non-streaming turns one
 * after another, through reverie vs a plain Koa proxy to the same provider.
 */
import type OpenAI from 'openai';
import { startProxy } from '../baselines';
import { serverUsage } from '../procfs';
import { MODEL, openaiClient, progress, type Bench, type Row } from '../harness';
import { percentile, spread } from '../stats';

interface LoadResult {
  turnsPerSecond: number;
  latencies: number[];
}

/** `sessions` lanes × `turns` sequential turns; a lane keeps its session (X-Session-Id). */
export async function sessionLoad(
  bench: Bench,
  client: OpenAI,
  sessions: number,
  turns: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, lane) => {
      let sessionId: string | undefined;
      for (let turn = 0; turn < turns; turn++) {
        const t0 = performance.now();
        const { data, response } = await client.chat.completions
          .create(
            {
              model: MODEL,
              messages: [{ role: 'user', content: bench.prompt(lane * turns + turn) }],
            },
            { headers: sessionId ? { 'X-Session-Id': sessionId } : {} },
          )
          .withResponse();
        latencies.push(performance.now() - t0);
        if (!data.choices[0]?.message.content) throw new Error('a turn answered no content');
        sessionId = response.headers.get('x-session-id') ?? undefined;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { turnsPerSecond: (sessions * turns) / seconds, latencies };
}

export async function throughput(bench: Bench): Promise<Row[]> {
  const { reps, sessions, turns } = bench.profile;
  const proxy = await startProxy(bench.fake.baseURL);
  try {
    const plain = openaiClient(`${proxy.url}/v1`, 'bench');
    // Warm-up: one turn per lane on each side.
    await sessionLoad(bench, bench.reverie, sessions, 1);
    await sessionLoad(bench, plain, sessions, 1);

    const ours: LoadResult[] = [];
    const theirs: LoadResult[] = [];
    const cpu = new Map<string, number[]>(); // CPU ms per reverie turn, by process
    const viaReverie = async () => {
      const before = await cpuSnapshot(bench);
      ours.push(await sessionLoad(bench, bench.reverie, sessions, turns));
      for (const [name, ms] of await cpuSnapshot(bench)) {
        const perTurn = (ms - (before.get(name) ?? 0)) / (sessions * turns);
        cpu.set(name, [...(cpu.get(name) ?? []), perTurn]);
      }
    };
    const viaProxy = async () => void theirs.push(await sessionLoad(bench, plain, sessions, turns));
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which side goes first so drift hits both alike.
      for (const side of rep % 2 === 0 ? [viaReverie, viaProxy] : [viaProxy, viaReverie]) {
        await side();
      }
      progress(
        `throughput rep ${rep + 1}/${reps}: ${ours.at(-1)!.turnsPerSecond.toFixed(1)} turns/s vs ${theirs.at(-1)!.turnsPerSecond.toFixed(1)} proxy`,
      );
    }

    const rate = spread(ours.map((r) => r.turnsPerSecond));
    const baseRate = spread(theirs.map((r) => r.turnsPerSecond)).median;
    const ratio = rate.median / baseRate;
    const latency = (results: LoadResult[], q: number) =>
      spread(results.map((r) => percentile(r.latencies, q)));
    return [
      {
        scenario: 'throughput',
        metric: `turns/s (${sessions}×${turns})`,
        unit: '1/s',
        reverie: rate,
        baseline: baseRate,
        ratio,
        target: '≥ 15/s, ≥ 0.5×',
        pass: rate.median >= 15 && ratio >= 0.5,
      },
      {
        scenario: 'throughput',
        metric: 'end-to-end p50',
        unit: 'ms',
        reverie: latency(ours, 50),
        baseline: latency(theirs, 50).median,
      },
      {
        scenario: 'throughput',
        metric: 'end-to-end p95',
        unit: 'ms',
        reverie: latency(ours, 95),
        baseline: latency(theirs, 95).median,
      },
      ...[...cpu].map(([name, values]): Row => ({
        scenario: 'throughput',
        metric: `CPU/turn: ${name}`,
        unit: 'ms',
        reverie: spread(values),
      })),
    ];
  } finally {
    await proxy.close();
  }
}

/** CPU ms so far of this process (API + worker + bench client) and of the stack's servers. */
async function cpuSnapshot(bench: Bench): Promise<Map<string, number>> {
  const { user, system } = process.cpuUsage();
  const snapshot = new Map([['this process', (user + system) / 1000]]);
  for (const [kind, usage] of await serverUsage(bench.stack.processGroups))
    snapshot.set(kind, usage.cpuMs);
  return snapshot;
}
