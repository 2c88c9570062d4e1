/**
 * `ttft`: time to first token and total time of one streaming turn, measured
 * at the client with the openai SDK, through reverie vs straight to the fake
 * provider. Turns alternate between the two sides so drift hits both alike.
 */
import type OpenAI from 'openai';
import { MODEL, progress, type Bench, type Row } from '../harness';
import { percentile, spread } from '../stats';

interface Sample {
  ttft: number;
  total: number;
}

async function streamTurn(
  client: OpenAI,
  content: string,
  headers: Record<string, string> = {},
): Promise<Sample & { sessionId?: string }> {
  const started = performance.now();
  const { data: stream, response } = await client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content }], stream: true }, { headers })
    .withResponse();
  let ttft = Number.NaN;
  for await (const chunk of stream) {
    if (Number.isNaN(ttft) && chunk.choices[0]?.delta.content) ttft = performance.now() - started;
  }
  const sessionId = response.headers.get('x-session-id') ?? undefined;
  return { ttft, total: performance.now() - started, sessionId };
}

export async function ttft(bench: Bench): Promise<Row[]> {
  const { reps, ttftTurns } = bench.profile;
  // One session for the whole scenario: steady-state turns of an ongoing chat.
  const first = await streamTurn(bench.reverie, bench.prompt(0));
  const headers = { 'X-Session-Id': first.sessionId! };
  for (let i = 1; i < 3; i++) {
    await streamTurn(bench.reverie, bench.prompt(i), headers);
    await streamTurn(bench.direct, bench.prompt(i));
  }

  const perRep = { ttftP50: [] as number[], addP50: [] as number[], addP95: [] as number[], totP50: [] as number[], totAddP50: [] as number[], totAddP95: [] as number[], directP50: [] as number[] };
  for (let rep = 0; rep < reps; rep++) {
    const ours: Sample[] = [];
    const theirs: Sample[] = [];
    for (let i = 0; i < ttftTurns; i++) {
      const prompt = bench.prompt(rep * ttftTurns + i);
      const pair = async () => ours.push(await streamTurn(bench.reverie, prompt, headers));
      const base = async () => theirs.push(await streamTurn(bench.direct, prompt));
      if (i % 2 === 0) {
        await pair();
        await base();
      } else {
        await base();
        await pair();
      }
    }
    const p = (xs: Sample[], key: keyof Sample, q: number) => percentile(xs.map((x) => x[key]), q);
    perRep.ttftP50.push(p(ours, 'ttft', 50));
    perRep.directP50.push(p(theirs, 'ttft', 50));
    perRep.addP50.push(p(ours, 'ttft', 50) - p(theirs, 'ttft', 50));
    perRep.addP95.push(p(ours, 'ttft', 95) - p(theirs, 'ttft', 95));
    perRep.totP50.push(p(ours, 'total', 50));
    perRep.totAddP50.push(p(ours, 'total', 50) - p(theirs, 'total', 50));
    perRep.totAddP95.push(p(ours, 'total', 95) - p(theirs, 'total', 95));
    progress(`ttft rep ${rep + 1}/${reps}: p50 ${perRep.ttftP50.at(-1)!.toFixed(1)} ms vs ${perRep.directP50.at(-1)!.toFixed(1)} ms direct`);
  }

  const addP50 = spread(perRep.addP50);
  const addP95 = spread(perRep.addP95);
  return [
    { scenario: 'ttft', metric: 'TTFT p50', unit: 'ms', reverie: spread(perRep.ttftP50), baseline: spread(perRep.directP50).median },
    { scenario: 'ttft', metric: 'added TTFT p50', unit: 'ms', reverie: addP50, target: '≤ 30 ms', pass: addP50.median <= 30 },
    { scenario: 'ttft', metric: 'added TTFT p95', unit: 'ms', reverie: addP95, target: '≤ 75 ms', pass: addP95.median <= 75 },
    { scenario: 'ttft', metric: 'total p50', unit: 'ms', reverie: spread(perRep.totP50), baseline: spread(perRep.totP50.map((t, i) => t - perRep.totAddP50[i])).median },
    { scenario: 'ttft', metric: 'added total p50', unit: 'ms', reverie: spread(perRep.totAddP50) },
    { scenario: 'ttft', metric: 'added total p95', unit: 'ms', reverie: spread(perRep.totAddP95) },
  ];
}
