/**
 * `auth`: requests per second of an authenticated `GET /v1/sessions` (API
 * key: hash, per-process key cache, tenant cache, key and tenant rate-limit
 * counters) against an anonymous one (IP counter only), same server, same
 * connection count, the same page (one session and a cursor) on both sides.
 * The key path must cost under 10 %.
 *
 * The machine is shared (the server, Postgres and the load generator on two
 * cores, other work besides), so throughput drifts by tens of percent within
 * a run. Only a paired measurement survives that: each repetition runs the
 * sides as A B B A in short slices, so a drift that is linear over the
 * repetition cancels, and the figure is the median of the per-repetition
 * ratios, never a ratio of medians taken minutes apart.
 */
import { progress, type Bench, type Row } from '../harness';
import { httpLoadInWorker, type LoadResult } from '../http-load';
import { median, percentile, spread } from '../stats';

const CONNECTIONS = 20;
/** Repetitions at least: fewer and one disturbed slice moves the median. */
const MIN_REPS = 9;
/** Warm-up rounds (both sides each): JIT, pool connections, key and tenant caches. */
const WARMUP_ROUNDS = 3;

type Side = 'key' | 'anonymous';

export async function auth(bench: Bench): Promise<Row[]> {
  const { healthMs } = bench.profile;
  const reps = Math.max(bench.profile.reps, MIN_REPS);
  const url = `${bench.url}/v1/sessions?limit=1`;
  const headers: Record<Side, Record<string, string> | undefined> = {
    key: { Authorization: `Bearer ${bench.apiKey}` },
    anonymous: undefined,
  };
  const sliceMs = Math.max(500, healthMs / 2);
  const load = (side: Side, durationMs = sliceMs) =>
    httpLoadInWorker({ url, connections: CONNECTIONS, durationMs, headers: headers[side] });

  await sameAnswerOnBothSides(url, headers);
  for (let round = 0; round < WARMUP_ROUNDS; round++) {
    await load('key', 500);
    await load('anonymous', 500);
  }
  const results: Record<Side, LoadResult[]> = { key: [], anonymous: [] };
  const ratios: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // A B B A, starting with the other side every repetition.
    const [a, b]: Side[] = rep % 2 === 0 ? ['key', 'anonymous'] : ['anonymous', 'key'];
    const slices: Record<Side, LoadResult[]> = { key: [], anonymous: [] };
    for (const side of [a, b, b, a]) slices[side].push(await load(side));
    const rate = (side: Side) => combined(slices[side]).requestsPerSecond;
    ratios.push(rate('key') / rate('anonymous'));
    results.key.push(combined(slices.key));
    results.anonymous.push(combined(slices.anonymous));
    progress(
      `auth rep ${rep + 1}/${reps}: ${rate('key').toFixed(0)} req/s with a key vs ${rate('anonymous').toFixed(0)} anonymous (${ratios.at(-1)!.toFixed(3)}×)`,
    );
  }
  const errors = [...results.key, ...results.anonymous].reduce((n, r) => n + r.errors, 0);
  if (errors > 0) throw new Error(`auth: ${errors} requests failed`);
  const ratio = median(ratios);
  return [
    {
      scenario: 'auth',
      metric: `GET /v1/sessions req/s, key vs anonymous (${CONNECTIONS} conns, median of ${reps} paired ABBA reps)`,
      unit: '1/s',
      reverie: spread(results.key.map((r) => r.requestsPerSecond)),
      baseline: median(results.anonymous.map((r) => r.requestsPerSecond)),
      ratio,
      target: '≥ 0.9×',
      pass: ratio >= 0.9,
    },
    {
      scenario: 'auth',
      metric: 'key/anonymous ratio per rep (spread)',
      unit: '×',
      reverie: spread(ratios),
    },
    {
      scenario: 'auth',
      metric: 'latency p99 with a key',
      unit: 'ms',
      reverie: spread(results.key.map((r) => percentile(r.latenciesMs, 99))),
      baseline: median(results.anonymous.map((r) => percentile(r.latenciesMs, 99))),
    },
  ];
}

/**
 * Only the credential may differ: each side's tenant gets sessions of its own
 * (the anonymous tenant had none, so its side answered an empty page while
 * the key's side read and rendered one), and both must answer one session
 * and a cursor.
 */
async function sameAnswerOnBothSides(
  url: string,
  headers: Record<Side, Record<string, string> | undefined>,
): Promise<void> {
  for (const side of ['key', 'anonymous'] as const) {
    const json = { 'content-type': 'application/json', ...headers[side] };
    for (let i = 0; i < 2; i++) {
      const made = await fetch(new URL('/v1/sessions', url), {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ title: `auth bench ${side} ${i}` }),
      });
      if (made.status !== 201) throw new Error(`auth: creating a session answered ${made.status}`);
    }
    const page = (await (await fetch(url, { headers: headers[side] })).json()) as {
      data: unknown[];
      next_cursor: string | null;
    };
    if (page.data.length !== 1 || !page.next_cursor)
      throw new Error(`auth: the ${side} side does not answer one session and a cursor`);
  }
}

/** Two slices of one side as one measurement (requests over their total time). */
function combined(slices: LoadResult[]): LoadResult {
  const requests = slices.reduce((n, s) => n + s.requests, 0);
  const seconds = slices.reduce((n, s) => n + s.requests / s.requestsPerSecond, 0);
  return {
    requests,
    errors: slices.reduce((n, s) => n + s.errors, 0),
    requestsPerSecond: requests / seconds,
    latenciesMs: slices.flatMap((s) => s.latenciesMs),
  };
}
