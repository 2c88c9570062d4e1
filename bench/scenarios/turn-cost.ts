/**
 * `turncost`: the three columns of issue #12, streaming 64-token answers
 * through the official openai client: added TTFT one at a time, added TTFT ten
 * at once, and N sessions × M turns (50 × 10; quick 10 × 3) in turns/s, each
 * beside same-run baselines (the fake provider directly, the plain Koa proxy,
 * and the floor of bench/floor.ts: a bare Temporal workflow per turn), and the
 * CPU per turn of every process while reverie and the floor served the load.
 */
import type OpenAI from 'openai';
import { startProxy } from '../baselines';
import { startTemporalFloor } from '../floor';
import {
  ANSWER_CHUNKS,
  MODEL,
  PACING,
  openaiClient,
  progress,
  type Bench,
  type Row,
} from '../harness';
import { serverUsage } from '../procfs';
import { percentile, seededRandom, seededText, spread, type Spread } from '../stats';

/** The stream: 64 tokens (chunks) 5 ms apart after 50 ms. */
const TOKENS = 64;

interface Turn {
  ttft: number;
  total: number;
  sessionId?: string;
}

async function streamTurn(
  client: OpenAI,
  content: string,
  sessionId: string | undefined,
): Promise<Turn> {
  const started = performance.now();
  const headers: Record<string, string> = sessionId ? { 'X-Session-Id': sessionId } : {};
  const { data: stream, response } = await client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content }], stream: true }, { headers })
    .withResponse();
  let ttft = Number.NaN;
  for await (const chunk of stream) {
    if (Number.isNaN(ttft) && chunk.choices[0]?.delta.content) ttft = performance.now() - started;
  }
  return {
    ttft,
    total: performance.now() - started,
    sessionId: response.headers.get('x-session-id') ?? sessionId,
  };
}

/** `lanes` concurrent sessions, `turns` sequential streaming turns each; one lane keeps its session. */
async function lanes(
  bench: Bench,
  client: OpenAI,
  count: number,
  turns: number,
  sessions: (string | undefined)[],
): Promise<{ samples: Turn[]; seconds: number }> {
  const samples: Turn[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, async (_, lane) => {
      for (let t = 0; t < turns; t++) {
        const turn = await streamTurn(client, bench.prompt(lane * turns + t), sessions[lane]);
        sessions[lane] = turn.sessionId;
        samples.push(turn);
      }
    }),
  );
  return { samples, seconds: (performance.now() - started) / 1000 };
}

/** CPU ms so far: this process (API + worker + load), Temporal and Postgres. */
async function cpuSnapshot(bench: Bench): Promise<Map<string, number>> {
  const { user, system } = process.cpuUsage();
  const snapshot = new Map([['bench process', (user + system) / 1000]]);
  for (const [kind, usage] of await serverUsage(bench.stack.processGroups))
    snapshot.set(kind, usage.cpuMs);
  return snapshot;
}

async function cpuPerTurn<T>(
  bench: Bench,
  turns: number,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Map<string, number> }> {
  const before = await cpuSnapshot(bench);
  const result = await work();
  const cpu = new Map<string, number>();
  for (const [name, ms] of await cpuSnapshot(bench))
    cpu.set(name, (ms - (before.get(name) ?? 0)) / turns);
  return { result, cpu };
}

const p = (samples: Turn[], key: 'ttft' | 'total', q: number) =>
  percentile(
    samples.map((s) => s[key]),
    q,
  );

type Sides = Record<'reverie' | 'proxy' | 'floor' | 'direct', OpenAI>;
type Side = keyof Sides;

const row = (metric: string, unit: string, reverie: Spread, extra: Partial<Row> = {}): Row => ({
  scenario: 'turncost',
  metric,
  unit,
  reverie,
  ...extra,
});

/** Sides alternate their order every repetition so drift hits them alike. */
const orderOf = (rep: number): Side[] =>
  rep % 2 ? ['direct', 'floor', 'proxy', 'reverie'] : ['reverie', 'proxy', 'floor', 'direct'];

/** The sides whose added TTFT is reported (all but the LLM itself). */
const ADDING = ['reverie', 'proxy', 'floor'] as const;

/** Added TTFT p50/p95 at `concurrency` lanes: reverie and the proxy minus the direct LLM, per rep. */
async function addedTtft(
  bench: Bench,
  sides: Sides,
  concurrency: number,
  perLane: number,
  aims: readonly [number, number],
): Promise<Row[]> {
  const { reps } = bench.profile;
  const sessionsOf: Record<Side, (string | undefined)[]> = {
    reverie: [],
    proxy: [],
    floor: [],
    direct: [],
  };
  for (const side of Object.keys(sides) as Side[])
    await lanes(bench, sides[side], concurrency, 1, sessionsOf[side]); // warm-up
  const added: Record<(typeof ADDING)[number], Record<50 | 95, number[]>> = {
    reverie: { 50: [], 95: [] },
    proxy: { 50: [], 95: [] },
    floor: { 50: [], 95: [] },
  };
  const direct: Record<50 | 95, number[]> = { 50: [], 95: [] };
  for (let rep = 0; rep < reps; rep++) {
    const got = {} as Record<Side, Turn[]>;
    for (const side of orderOf(rep))
      got[side] = (await lanes(bench, sides[side], concurrency, perLane, sessionsOf[side])).samples;
    for (const q of [50, 95] as const) {
      direct[q].push(p(got.direct, 'ttft', q));
      for (const side of ADDING)
        added[side][q].push(p(got[side], 'ttft', q) - p(got.direct, 'ttft', q));
    }
    progress(
      `turncost c${concurrency} rep ${rep + 1}/${reps}: added p50 ${added.reverie[50].at(-1)!.toFixed(1)} ms (proxy ${added.proxy[50].at(-1)!.toFixed(1)}, floor ${added.floor[50].at(-1)!.toFixed(1)})`,
    );
  }
  return ([50, 95] as const).flatMap((q, i) => {
    const ours = spread(added.reverie[q]);
    return [
      row(`added TTFT p${q}, ${concurrency} at once`, 'ms', ours, {
        baseline: spread(added.proxy[q]).median,
        target: `≤ ${aims[i]} ms (baseline: proxy's added)`,
        pass: ours.median <= aims[i],
      }),
      row(`floor's added TTFT p${q}, ${concurrency} at once`, 'ms', spread(added.floor[q])),
      row(`direct TTFT p${q}, ${concurrency} at once`, 'ms', spread(direct[q])),
    ];
  });
}

/** `sessions` × `turns` streaming turns on each side: turns/s, and the CPU per turn by process of reverie and the floor. */
async function load(
  bench: Bench,
  sides: Sides,
  sessions: number,
  turns: number,
  reps: number,
): Promise<Row[]> {
  const rates: Record<Side, number[]> = { reverie: [], proxy: [], floor: [], direct: [] };
  const p95: number[] = [];
  const cpu: Record<'reverie' | 'floor', Map<string, number[]>> = {
    reverie: new Map(),
    floor: new Map(),
  };
  const clientCpu: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const side of orderOf(rep)) {
      const measured = await cpuPerTurn(bench, sessions * turns, () =>
        lanes(bench, sides[side], sessions, turns, []),
      );
      const { samples, seconds } = measured.result;
      rates[side].push((sessions * turns) / seconds);
      if (side === 'reverie') p95.push(p(samples, 'total', 95));
      if (side === 'reverie' || side === 'floor')
        for (const [name, ms] of measured.cpu)
          cpu[side].set(name, [...(cpu[side].get(name) ?? []), ms]);
      // The load generator alone: what the bench process spends per direct turn.
      if (side === 'direct') clientCpu.push(measured.cpu.get('bench process') ?? 0);
    }
    progress(
      `turncost ${sessions}×${turns} rep ${rep + 1}/${reps}: ${rates.reverie.at(-1)!.toFixed(1)} turns/s (proxy ${rates.proxy.at(-1)!.toFixed(1)}, floor ${rates.floor.at(-1)!.toFixed(1)}, direct ${rates.direct.at(-1)!.toFixed(1)})`,
    );
  }
  const rate = spread(rates.reverie);
  const client = spread(clientCpu).median;
  return [
    row(`turns/s (${sessions}×${turns}, 64-token streams)`, '1/s', rate, {
      baseline: spread(rates.proxy).median,
      target: '≥ 40/s (baseline: proxy)',
      pass: rate.median >= 40,
    }),
    row('turns/s, floor (a bare Temporal workflow per turn)', '1/s', spread(rates.floor)),
    row('turns/s, LLM directly', '1/s', spread(rates.direct)),
    row('turn p95 (end to end)', 'ms', spread(p95)),
    ...cpuRows('', cpu.reverie, client, { target: '≤ 35 ms', pass: (total) => total <= 35 }),
    ...cpuRows('floor ', cpu.floor, client),
  ];
}

/** CPU per turn by process, the bench process net of the load generator, and their sum. */
function cpuRows(
  side: string,
  cpu: Map<string, number[]>,
  client: number,
  aim?: { target: string; pass: (total: number) => boolean },
): Row[] {
  const rows: Row[] = [];
  let total = 0;
  for (const [name, values] of cpu) {
    const s = spread(name === 'bench process' ? values.map((v) => v - client) : values);
    total += s.median;
    const label = name === 'bench process' ? 'API + worker (bench process − load generator)' : name;
    rows.push(row(`${side}CPU/turn: ${label}`, 'ms', s));
  }
  const once = { min: total, median: total, max: total };
  const judged = aim ? { target: aim.target, pass: aim.pass(total) } : {};
  rows.push(row(`${side}CPU/turn: all processes`, 'ms', once, judged));
  return rows;
}

export async function turnCost(bench: Bench): Promise<Row[]> {
  const { ttftTurns } = bench.profile;
  const text = seededText(seededRandom(64), 400).slice(0, TOKENS * PACING.chunkChars);
  bench.fake.setDefault({ kind: 'text', text, ...PACING });
  const proxy = await startProxy(bench.fake.baseURL);
  const floor = await startTemporalFloor(
    bench.fake.baseURL,
    bench.stack.temporalAddress,
    bench.config.temporal.namespace,
  );
  const sides: Sides = {
    reverie: bench.reverie,
    proxy: openaiClient(`${proxy.url}/v1`, 'bench'),
    floor: openaiClient(`${floor.url}/v1`, 'bench'),
    direct: bench.direct,
  };
  try {
    return [
      ...(await addedTtft(bench, sides, 1, ttftTurns, [25, 40])),
      ...(await addedTtft(bench, sides, 10, Math.max(2, Math.round(ttftTurns / 5)), [50, 120])),
      // The load is 50 × 10 in both profiles; quick measures it once, full three times.
      ...(await load(bench, sides, 50, 10, bench.profile.name === 'quick' ? 1 : 3)),
    ];
  } finally {
    await proxy.close();
    await floor.close();
    // Back to the other scenarios' answer (harness.ts).
    const usual = seededText(seededRandom(42), 200).slice(0, ANSWER_CHUNKS * PACING.chunkChars);
    bench.fake.setDefault({ kind: 'text', text: usual, ...PACING });
  }
}
