/**
 * `ttft`: time to first token and total time of one streaming turn, measured
 * at the client with the openai SDK, through reverie vs straight to the fake
 * provider. Turns alternate between the two sides so drift hits both alike.
 * Reverie's first-token time is also split into phases, using the time the
 * fake provider received the model call.
 */
import type OpenAI from 'openai';
import { MODEL, PACING, progress, type Bench, type Row } from '../harness';
import { percentile, spread, type Spread } from '../stats';

interface Sample {
  /** Response headers arrived. */
  headers: number;
  /** The provider received the model call (reverie side only). */
  provider: number;
  ttft: number;
  total: number;
}

async function streamTurn(
  bench: Bench,
  client: OpenAI,
  content: string,
  headers: Record<string, string> = {},
): Promise<Sample & { sessionId?: string }> {
  bench.fake.requests.length = 0;
  const wallStart = Date.now();
  const started = performance.now();
  const { data: stream, response } = await client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content }], stream: true }, { headers })
    .withResponse();
  const headersAt = performance.now() - started;
  let ttft = Number.NaN;
  for await (const chunk of stream) {
    if (Number.isNaN(ttft) && chunk.choices[0]?.delta.content) ttft = performance.now() - started;
  }
  const total = performance.now() - started;
  const call = bench.fake.chatRequests()[0];
  return {
    headers: headersAt,
    provider: call ? call.time - wallStart : Number.NaN,
    ttft,
    total,
    sessionId: response.headers.get('x-session-id') ?? undefined,
  };
}

export async function ttft(bench: Bench): Promise<Row[]> {
  const { reps, ttftTurns } = bench.profile;
  // One session for the whole scenario: steady-state turns of an ongoing chat.
  const first = await streamTurn(bench, bench.reverie, bench.prompt(0));
  const headers = { 'X-Session-Id': first.sessionId! };
  for (let i = 1; i < 3; i++) {
    await streamTurn(bench, bench.reverie, bench.prompt(i), headers);
    await streamTurn(bench, bench.direct, bench.prompt(i));
  }

  const ours: Sample[][] = [];
  const theirs: Sample[][] = [];
  for (let rep = 0; rep < reps; rep++) {
    const o: Sample[] = [];
    const t: Sample[] = [];
    for (let i = 0; i < ttftTurns; i++) {
      const prompt = bench.prompt(rep * ttftTurns + i);
      const viaReverie = async () =>
        void o.push(await streamTurn(bench, bench.reverie, prompt, headers));
      const direct = async () => void t.push(await streamTurn(bench, bench.direct, prompt));
      for (const side of i % 2 === 0 ? [viaReverie, direct] : [direct, viaReverie]) await side();
    }
    ours.push(o);
    theirs.push(t);
    progress(
      `ttft rep ${rep + 1}/${reps}: p50 ${p(o, 'ttft', 50).toFixed(1)} ms vs ${p(t, 'ttft', 50).toFixed(1)} ms direct`,
    );
  }

  /** One value per repetition, spread over the repetitions. */
  const perRep = (f: (o: Sample[], rep: number) => number) => spread(ours.map(f));
  const pct = (key: keyof Sample, q: number) => perRep((o) => p(o, key, q));
  const added = (key: keyof Sample, q: number) =>
    perRep((o, rep) => p(o, key, q) - p(theirs[rep], key, q));
  const baseline = (key: keyof Sample, q: number) => spread(theirs.map((t) => p(t, key, q))).median;
  const phase = (f: (s: Sample) => number) => perRep((o) => percentile(o.map(f), 50));
  const row = (metric: string, reverie: Spread, extra: Partial<Row> = {}): Row => ({
    scenario: 'ttft',
    metric,
    unit: 'ms',
    reverie,
    ...extra,
  });

  const addP50 = added('ttft', 50);
  const addP95 = added('ttft', 95);
  return [
    row('TTFT p50', pct('ttft', 50), { baseline: baseline('ttft', 50) }),
    row('TTFT p95', pct('ttft', 95), { baseline: baseline('ttft', 95) }),
    row('added TTFT p50', addP50, { target: '≤ 30 ms', pass: addP50.median <= 30 }),
    row('added TTFT p95', addP95, { target: '≤ 75 ms', pass: addP95.median <= 75 }),
    row('total p50', pct('total', 50), { baseline: baseline('total', 50) }),
    row('added total p50', added('total', 50)),
    row('added total p95', added('total', 95)),
    row(
      'p50 phase: request → response headers',
      phase((s) => s.headers),
    ),
    row(
      'p50 phase: headers → provider call',
      phase((s) => s.provider - s.headers),
    ),
    row(
      'p50 phase: provider token → client',
      phase((s) => s.ttft - s.provider - PACING.firstTokenDelayMs),
    ),
  ];
}

function p(samples: Sample[], key: keyof Sample, q: number): number {
  return percentile(
    samples.map((s) => s[key]),
    q,
  );
}
