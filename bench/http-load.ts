/**
 * A small closed-loop HTTP load generator (what autocannon would do): `connections`
 * keep-alive clients each send GETs back to back for `durationMs`. It runs on a
 * worker thread so the client does not share the event loop of the server.
 */
import http from 'node:http';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface LoadOptions {
  url: string;
  connections: number;
  durationMs: number;
  /** Sent with every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  errors: number;
  requestsPerSecond: number;
  latenciesMs: number[];
}

/** Run the load in this thread. */
export async function httpLoad({
  url,
  connections,
  durationMs,
  headers,
}: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latenciesMs: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const get = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        if (await get()) latenciesMs.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    requests: latenciesMs.length,
    errors,
    requestsPerSecond: latenciesMs.length / seconds,
    latenciesMs,
  };
}

/** Run the load on a worker thread and wait for its result. */
export function httpLoadInWorker(options: LoadOptions): Promise<LoadResult> {
  const entry = `
    require('tsx/cjs');
    const { parentPort, workerData } = require('node:worker_threads');
    require(${JSON.stringify(path.join(__dirname, 'http-load.ts'))})
      .httpLoad(workerData)
      .then((result) => parentPort.postMessage(result));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { eval: true, workerData: options });
    worker.once('message', (result: LoadResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
