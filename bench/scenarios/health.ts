/**
 * `health`: `GET /health` requests per second with 50 concurrent keep-alive
 * clients, reverie's API (full middleware stack) vs a bare Koa app.
 */
import { startBareHealth } from '../baselines';
import { progress, type Bench, type Row } from '../harness';
import { httpLoadInWorker, type LoadResult } from '../http-load';
import { percentile, spread } from '../stats';

const CONNECTIONS = 50;

export async function health(bench: Bench): Promise<Row[]> {
  const { reps, healthMs } = bench.profile;
  const bare = await startBareHealth();
  try {
    const load = (url: string, durationMs = healthMs) =>
      httpLoadInWorker({ url: `${url}/health`, connections: CONNECTIONS, durationMs });
    await load(bench.url, 500);
    await load(bare.url, 500);

    const ours: LoadResult[] = [];
    const theirs: LoadResult[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? [bench.url, bare.url] : [bare.url, bench.url];
      for (const url of order) (url === bench.url ? ours : theirs).push(await load(url));
      progress(
        `health rep ${rep + 1}/${reps}: ${ours.at(-1)!.requestsPerSecond.toFixed(0)} req/s vs ${theirs.at(-1)!.requestsPerSecond.toFixed(0)} bare`,
      );
    }
    const errors = [...ours, ...theirs].reduce((n, r) => n + r.errors, 0);
    if (errors > 0) throw new Error(`health: ${errors} requests failed`);

    const rate = spread(ours.map((r) => r.requestsPerSecond));
    const baseRate = spread(theirs.map((r) => r.requestsPerSecond)).median;
    const ratio = rate.median / baseRate;
    const p99 = (results: LoadResult[]) =>
      spread(results.map((r) => percentile(r.latenciesMs, 99)));
    return [
      {
        scenario: 'health',
        metric: `req/s (${CONNECTIONS} conns)`,
        unit: '1/s',
        reverie: rate,
        baseline: baseRate,
        ratio,
        target: '≥ 0.8×',
        pass: ratio >= 0.8,
      },
      {
        scenario: 'health',
        metric: 'latency p99',
        unit: 'ms',
        reverie: p99(ours),
        baseline: p99(theirs).median,
      },
    ];
  } finally {
    await bare.close();
  }
}
