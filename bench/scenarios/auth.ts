/**
 * `auth`: requests per second of an authenticated `GET /v1/sessions` (API
 * key: hash, per-process key cache, tenant cache, key and tenant rate-limit
 * counters) against an anonymous one (IP counter only), same server. The key
 * path must cost under 10 %.
 */
import { progress, type Bench, type Row } from '../harness';
import { httpLoadInWorker, type LoadResult } from '../http-load';
import { percentile, spread } from '../stats';

const CONNECTIONS = 20;

export async function auth(bench: Bench): Promise<Row[]> {
  const { reps, healthMs } = bench.profile;
  const url = `${bench.url}/v1/sessions?limit=1`;
  const withKey = { Authorization: `Bearer ${bench.apiKey}` };
  const load = (headers: Record<string, string> | undefined, durationMs = healthMs) =>
    httpLoadInWorker({ url, connections: CONNECTIONS, durationMs, headers });
  await load(withKey, 500);
  await load(undefined, 500);
  const keyed: LoadResult[] = [];
  const anonymous: LoadResult[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // Alternate the order so neither side always runs on a warmer server.
    const order = rep % 2 === 0 ? [true, false] : [false, true];
    for (const authed of order)
      (authed ? keyed : anonymous).push(await load(authed ? withKey : undefined));
    progress(
      `auth rep ${rep + 1}/${reps}: ${keyed.at(-1)!.requestsPerSecond.toFixed(0)} req/s with a key vs ${anonymous.at(-1)!.requestsPerSecond.toFixed(0)} anonymous`,
    );
  }
  const errors = [...keyed, ...anonymous].reduce((n, r) => n + r.errors, 0);
  if (errors > 0) throw new Error(`auth: ${errors} requests failed`);
  const rate = spread(keyed.map((r) => r.requestsPerSecond));
  const base = spread(anonymous.map((r) => r.requestsPerSecond)).median;
  const ratio = rate.median / base;
  return [
    {
      scenario: 'auth',
      metric: `GET /v1/sessions req/s, key vs anonymous (${CONNECTIONS} conns)`,
      unit: '1/s',
      reverie: rate,
      baseline: base,
      ratio,
      target: '≥ 0.9×',
      pass: ratio >= 0.9,
    },
    {
      scenario: 'auth',
      metric: 'latency p99 with a key',
      unit: 'ms',
      reverie: spread(keyed.map((r) => percentile(r.latenciesMs, 99))),
      baseline: spread(anonymous.map((r) => percentile(r.latenciesMs, 99))).median,
    },
  ];
}
