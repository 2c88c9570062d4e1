/**
 * `resume`: crash recovery as a client sees it, with a real `reverie api` and
 * `reverie worker` process (test/helpers/platform.ts) on the bench's stack and
 * a fake provider of its own that holds the stream at a gate mid-answer.
 *
 * - worker: `kill -9` the worker while the turn streams (a standby worker is
 *   already polling), and time kill → next event at the client, which stays
 *   connected to the API; then count lost and duplicated seqs (must be 0).
 *   Temporal notices the lost heartbeat after 5 s, so the target is
 *   "heartbeat timeout + 1 s".
 * - api: `kill -9` the API while a client reads, start a new API process, and
 *   time the reconnect with `Last-Event-ID` → its first event (`run.state`).
 */
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../../test/helpers/fake-openai';
import { readFile } from 'node:fs/promises';
import { platformEnv, spawnReverie, type ReverieProcess } from '../../test/helpers/platform';
import { RunEventsClient } from '../../test/helpers/sse-client';
import { MODEL, progress, type Bench, type Row } from '../harness';
import { spread } from '../stats';

const TEXT =
  'Durable turns survive a dead worker and a dead API: the log is the truth and clients resume from it.';
const BEFORE_GATE = 6;
const HEARTBEAT_MS = 5_000;

interface Procs {
  env: Record<string, string>;
  api: ReverieProcess;
  workers: ReverieProcess[];
  all: ReverieProcess[];
}

async function startTurn(procs: Procs, apiKey: string) {
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` };
  const url = procs.api.url!;
  const session = await fetch(`${url}/v1/sessions`, { method: 'POST', headers, body: '{}' });
  if (session.status !== 201) throw new Error(`POST /v1/sessions: HTTP ${session.status}`);
  const { id } = (await session.json()) as { id: string };
  const response = await fetch(`${url}/v1/sessions/${id}/messages`, {
    method: 'POST',
    headers: { ...headers, Accept: 'text/event-stream' },
    body: JSON.stringify({ content: 'survive this', stream: true }),
  });
  if (response.status !== 200) throw new Error(`POST messages: HTTP ${response.status}`);
  const runId = response.headers.get('x-run-id')!;
  const client = new RunEventsClient({ headers: { Authorization: `Bearer ${apiKey}` } });
  const first = client.consume(response);
  return { runId, client, first };
}

/** Seqs missing and seqs delivered twice, against the run's log. */
async function delivery(bench: Bench, client: RunEventsClient, runId: string) {
  const { rows } = await bench.pool.query<{ last_seq: string }>(
    'select last_seq from runs where id = $1',
    [runId],
  );
  const lastSeq = Number(rows[0].last_seq);
  const seen = new Set(client.seqs);
  let lost = 0;
  for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) lost++;
  return { lost, duplicated: client.seqs.length - seen.size, textOk: client.text === TEXT };
}

async function workerKill(bench: Bench, fake: FakeOpenAI, procs: Procs) {
  const gate = createGate();
  fake.enqueue(
    { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
    { kind: 'text', text: TEXT },
  );
  const { runId, client, first } = await startTurn(procs, bench.apiKey);
  await gate.reached;
  await client.waitFor((c) => c.text.length >= BEFORE_GATE * 4, 10_000, 'deltas before the gate');
  // A standby worker polls the queue before the kill, as in a real deployment.
  const standby = await spawnReverie('worker', procs.env);
  procs.all.push(standby);
  const victim = procs.workers.shift()!;
  const before = client.frames.length;
  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  procs.workers.push(standby);
  await client.waitFor((c) => c.frames.length > before, 30_000, 'an event after the kill');
  const nextEvent = client.frames[before].at - killedAt;
  const end = await first;
  if (!client.done) await client.follow(procs.api.url!, runId, { timeoutMs: 30_000 });
  gate.open();
  return {
    nextEvent,
    firstEvent: client.frames[before].event,
    end: end.reason,
    ...(await delivery(bench, client, runId)),
  };
}

async function apiKill(bench: Bench, fake: FakeOpenAI, procs: Procs) {
  const gate = createGate();
  fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
  const { runId, client, first } = await startTurn(procs, bench.apiKey);
  await gate.reached;
  await client.waitFor((c) => c.text.length >= BEFORE_GATE * 4, 10_000, 'deltas before the gate');
  const killedAt = Date.now();
  await procs.api.kill('SIGKILL');
  await first;
  procs.api = await spawnReverie('api', procs.env);
  procs.all.push(procs.api);
  const restart = Date.now() - killedAt;
  const reconnectAt = Date.now();
  const resumed = client.resume(procs.api.url!, runId);
  await client.waitFor(
    (c) => c.connections === 2 && c.ofConnection(1).length > 0,
    10_000,
    'the resumed stream',
  );
  const firstFrame = client.ofConnection(1)[0];
  const toFirst = firstFrame.at - reconnectAt;
  gate.open();
  await resumed;
  if (!client.done) await client.follow(procs.api.url!, runId, { timeoutMs: 30_000 });
  return {
    restart,
    toFirst,
    firstEvent: firstFrame.event,
    ...(await delivery(bench, client, runId)),
  };
}

export async function resume(bench: Bench): Promise<Row[]> {
  const reps = bench.profile.name === 'quick' ? 1 : bench.profile.reps;
  const fake = await startFakeOpenAI();
  const env = await platformEnv({
    DATABASE_URL: bench.stack.databaseUrl,
    TEMPORAL_ADDRESS: bench.stack.temporalAddress,
    LLM_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: 'bench',
    LLM_MODEL: MODEL,
  });
  const [api, worker] = await Promise.all([spawnReverie('api', env), spawnReverie('worker', env)]);
  const procs: Procs = { env, api, workers: [worker], all: [api, worker] };
  const w: Awaited<ReturnType<typeof workerKill>>[] = [];
  const a: Awaited<ReturnType<typeof apiKill>>[] = [];
  const rss = { worker: [] as number[], api: [] as number[] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      fake.reset();
      const wr = await workerKill(bench, fake, procs);
      w.push(wr);
      progress(
        `resume rep ${rep + 1}/${reps} worker: next event (${wr.firstEvent}) ${wr.nextEvent} ms after kill, ` +
          `lost ${wr.lost}, duplicated ${wr.duplicated}, text ${wr.textOk ? 'ok' : 'WRONG'}`,
      );
      fake.reset();
      const ar = await apiKill(bench, fake, procs);
      a.push(ar);
      progress(
        `resume rep ${rep + 1}/${reps} api: restart ${ar.restart} ms, reconnect → first event (${ar.firstEvent}) ` +
          `${ar.toFirst} ms, lost ${ar.lost}, duplicated ${ar.duplicated}, text ${ar.textOk ? 'ok' : 'WRONG'}`,
      );
    }
    // The processes that served the last turns, as deployed: one API, one worker each.
    rss.worker.push(await rssMb(procs.workers.at(-1)!));
    rss.api.push(await rssMb(procs.api));
  } finally {
    await Promise.all(procs.all.map((p) => p.kill()));
    await fake.close();
  }

  const row = (metric: string, unit: string, values: number[], extra: Partial<Row> = {}): Row => ({
    scenario: 'resume',
    metric,
    unit,
    reverie: spread(values),
    ...extra,
  });
  const wNext = spread(w.map((r) => r.nextEvent));
  const wBad = w.map((r) => r.lost + r.duplicated + (r.textOk ? 0 : 1));
  const aFirst = spread(a.map((r) => r.toFirst));
  const aBad = a.map((r) => r.lost + r.duplicated + (r.textOk ? 0 : 1));
  return [
    row(
      'worker kill -9 → next event at client',
      'ms',
      w.map((r) => r.nextEvent),
      {
        target: `≤ ${HEARTBEAT_MS + 1000} ms (heartbeat + 1 s)`,
        pass: wNext.max <= HEARTBEAT_MS + 1000,
      },
    ),
    row('worker kill: lost + duplicated events', 'events', wBad, {
      target: '0',
      pass: wBad.every((n) => n === 0),
    }),
    row(
      'api kill -9 → new API listening (info)',
      'ms',
      a.map((r) => r.restart),
    ),
    row(
      'api reconnect (Last-Event-ID) → first event',
      'ms',
      a.map((r) => r.toFirst),
      {
        target: '≤ 500 ms',
        pass: aFirst.max <= 500,
      },
    ),
    row('api kill: lost + duplicated events', 'events', aBad, {
      target: '0',
      pass: aBad.every((n) => n === 0),
    }),
    row('RSS of a worker process after its turns', 'MB', rss.worker, {
      target: '≤ 350 MB',
      pass: Math.max(...rss.worker) <= 350,
    }),
    row('RSS of an API process after its turns (info)', 'MB', rss.api),
  ];
}

async function rssMb(proc: ReverieProcess): Promise<number> {
  const status = await readFile(`/proc/${proc.child.pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
