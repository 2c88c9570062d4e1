/**
 * `sse`: N concurrent readers of live runs (full 200, quick 50) on
 * `GET /v1/runs/{id}/events`, spread over a few streaming turns. For every
 * event a reader receives live, the relay latency is the time between the
 * event's `created_at` in Postgres and its arrival at the reader (same
 * machine, same clock). The readers run on a worker thread so that parsing
 * does not share the event loop of the API (which runs in this process).
 *
 * The target applies at the API: the API's own summary (`reverie_sse_relay_seconds`)
 * times each event from the notification that announced it reaching the API
 * to its frame being written to the stream.
 *
 * What the end-to-end latency includes: `created_at` is `now()` of the inserting
 * transaction (its start), so it covers the rest of that transaction and its
 * commit, the NOTIFY to the API's listener, the API's read of the new rows,
 * rendering, the socket write and the reader's parse. It excludes the worker's
 * event batching before the transaction (EVENT_BATCH_MS).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createParser } from 'eventsource-parser';
import { createGate } from '../../test/helpers/fake-openai';
import { ANSWER_CHUNKS, PACING, progress, type Bench, type Row } from '../harness';
import { percentile, seededRandom, seededText, spread } from '../stats';

/** Live runs the readers are spread over. */
const RUNS = 5;

interface ReaderJob {
  url: string;
  apiKey: string;
  /** One entry per reader: the run it reads. */
  runIds: string[];
}

/** What one reader saw: when it was connected, and [seq, arrival] of every event with an id. */
interface ReaderResult {
  runId: string;
  connectedAt: number;
  events: [number, number][];
  error?: string;
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across threads). */
const wallNow = () => performance.timeOrigin + performance.now();

/** Run on the worker thread: open every reader, report `connected`, then read to the end. */
export async function readAll(job: ReaderJob, onConnected: () => void): Promise<ReaderResult[]> {
  let pending = job.runIds.length;
  const connected = () => {
    if (--pending === 0) onConnected();
  };
  return Promise.all(
    job.runIds.map(async (runId): Promise<ReaderResult> => {
      const result: ReaderResult = { runId, connectedAt: Number.NaN, events: [] };
      let counted = false;
      try {
        const res = await fetch(`${job.url}/v1/runs/${runId}/events`, {
          headers: { Accept: 'text/event-stream', Authorization: `Bearer ${job.apiKey}` },
          signal: AbortSignal.timeout(60_000),
        });
        result.connectedAt = wallNow();
        counted = true;
        connected();
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const parser = createParser({
          onEvent: (m) => {
            if (m.id) result.events.push([Number(m.id), wallNow()]);
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch (error) {
        result.error = String(error);
        if (!counted) connected();
      }
      return result;
    }),
  );
}

function readInWorker(job: ReaderJob, onConnected: () => void): Promise<ReaderResult[]> {
  const entry = `
    require('tsx/cjs');
    const { parentPort, workerData } = require('node:worker_threads');
    require(${JSON.stringify(path.join(__dirname, 'sse.ts'))})
      .readAll(workerData, () => parentPort.postMessage({ connected: true }))
      .then((results) => parentPort.postMessage({ results }));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { eval: true, workerData: job });
    worker.on('message', (m: { connected?: boolean; results?: ReaderResult[] }) => {
      if (m.connected) onConnected();
      if (m.results) {
        resolve(m.results);
        void worker.terminate();
      }
    });
    worker.once('error', reject);
  });
}

async function api<T>(bench: Bench, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${bench.url}${route}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bench.apiKey}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface RepResult {
  latencies: number[];
  /** At the API: notification received → frame written (the API's own summary), ms. */
  atApi: { p50: number; p99: number };
  eventsPerSecond: number;
  errors: number;
  live: number;
}

async function oneRep(bench: Bench, readers: number, rep: number): Promise<RepResult> {
  // Every run waits at the gate before its first delta until all readers are connected.
  const gate = createGate();
  const text = seededText(seededRandom(42), 200).slice(0, ANSWER_CHUNKS * PACING.chunkChars);
  bench.fake.enqueue(
    ...Array.from({ length: RUNS }, () => ({
      kind: 'gate' as const,
      gate,
      afterChunks: 0,
      text,
      ...PACING,
    })),
  );
  const runIds: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const session = await api<{ id: string }>(bench, 'POST', '/v1/sessions', {});
    const started = await api<{ run: { id: string } }>(
      bench,
      'POST',
      `/v1/sessions/${session.id}/messages`,
      { content: bench.prompt(rep * RUNS + i), stream: false },
    );
    runIds.push(started.run.id);
  }
  await gate.reached;
  bench.apiMetrics.sseRelay.reset();
  let openedAt = Number.NaN;
  const results = await readInWorker(
    {
      url: bench.url,
      apiKey: bench.apiKey,
      runIds: Array.from({ length: readers }, (_, i) => runIds[i % RUNS]),
    },
    () => {
      openedAt = wallNow();
      gate.open();
    },
  );
  if (Number.isNaN(openedAt)) gate.open();

  // created_at as epoch microseconds, exact (no Date rounding).
  const created = new Map<string, number>();
  const { rows } = await bench.pool.query<{ run_id: string; seq: string; us: string }>(
    `select run_id, seq, (extract(epoch from created_at) * 1000000)::bigint::text as us
       from run_events where run_id = any($1::uuid[])`,
    [runIds],
  );
  for (const r of rows) created.set(`${r.run_id}:${r.seq}`, Number(r.us) / 1000);

  const latencies: number[] = [];
  let last = 0;
  for (const r of results) {
    for (const [seq, at] of r.events) {
      const c = created.get(`${r.runId}:${seq}`);
      // Live events only: written after this reader was connected (the rest is replay).
      if (c === undefined || c < r.connectedAt) continue;
      latencies.push(at - c);
      last = Math.max(last, at);
    }
  }
  const errors = results.filter((r) => r.error).length;
  const seconds = (last - openedAt) / 1000;
  const { values } = await bench.apiMetrics.sseRelay.get();
  const quantile = (q: number) =>
    1000 * Number(values.find((v) => v.labels.quantile === q)?.value ?? Number.NaN);
  return {
    latencies,
    atApi: { p50: quantile(0.5), p99: quantile(0.99) },
    eventsPerSecond: latencies.length / seconds,
    errors,
    live: latencies.length,
  };
}

export async function sse(bench: Bench): Promise<Row[]> {
  const quick = bench.profile.name === 'quick';
  const readers = quick ? 50 : 200;
  const reps = bench.profile.reps;
  const warm = await oneRep(bench, 5, 99); // warm-up: worker thread, connections, JIT
  progress(
    `sse warm-up, 5 readers: p50 ${percentile(warm.latencies, 50).toFixed(2)} ms, p99 ${percentile(warm.latencies, 99).toFixed(2)} ms`,
  );
  const out: RepResult[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const r = await oneRep(bench, readers, rep);
    out.push(r);
    progress(
      `sse rep ${rep + 1}/${reps}: ${r.live} live events, at the API p50 ${r.atApi.p50.toFixed(2)} ms p99 ${r.atApi.p99.toFixed(2)} ms; ` +
        `end to end p50 ${percentile(r.latencies, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(r.latencies, 99).toFixed(2)} ms, ${r.eventsPerSecond.toFixed(0)} events/s, ${r.errors} reader errors`,
    );
  }
  const apiP99 = spread(out.map((r) => r.atApi.p99));
  const errors = out.reduce((n, r) => n + r.errors, 0);
  const row = (metric: string, unit: string, values: number[], extra: Partial<Row> = {}): Row => ({
    scenario: 'sse',
    metric,
    unit,
    reverie: spread(values),
    ...extra,
  });
  return [
    row(
      `relay p50 at the API (notification → frame written), ${readers} readers / ${RUNS} runs`,
      'ms',
      out.map((r) => r.atApi.p50),
    ),
    {
      scenario: 'sse',
      metric: `relay p99 at the API (notification → frame written), ${readers} readers / ${RUNS} runs`,
      unit: 'ms',
      reverie: apiP99,
      target: '≤ 5 ms',
      pass: apiP99.median <= 5 && errors === 0,
    },
    row(
      `relay p50 end to end (created_at → reader)`,
      'ms',
      out.map((r) => percentile(r.latencies, 50)),
    ),
    row(
      `relay p99 end to end (created_at → reader)`,
      'ms',
      out.map((r) => percentile(r.latencies, 99)),
    ),
    row(
      'events/s delivered across readers',
      'events/s',
      out.map((r) => r.eventsPerSecond),
    ),
    row(
      'live events received per rep',
      'events',
      out.map((r) => r.live),
    ),
    row(
      'reader errors',
      'readers',
      out.map((r) => r.errors),
      { target: '0', pass: errors === 0 },
    ),
  ];
}
