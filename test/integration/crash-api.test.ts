/**
 * Crash survival, API side: `kill -9` the API process while a client reads a
 * turn's stream. The turn goes on in the worker; a new API process serves the
 * resume (`GET /v1/runs/{id}/events` with `Last-Event-ID`): first `run.state`,
 * then every later event once, with no gap. Also: a client that simply goes
 * away does not stop its turn.
 */
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { platformEnv, spawnReverie, testPool, type ReverieProcess } from '../helpers/platform';
import {
  getJson,
  readChunkStream,
  RunEventsClient,
  type MessageJson,
  type RunJson,
} from '../helpers/sse-client';
import type { Pool } from '../../src/db/pool';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { Client } from '@langchain/langgraph-sdk';
import { mcpClient, toolJson } from '../helpers/mcp-client';
import {
  readResponseEvents,
  responsesClient,
  runIdOf,
  shownText,
} from '../helpers/responses-client';

const TEXT =
  'An API process is only a window onto the event log; the turn itself lives in the worker and Temporal.';
const BEFORE_GATE = 5;

describe('crash: API killed with -9 mid-stream', () => {
  let fake: FakeOpenAI;
  let env: Record<string, string>;
  let worker: ReverieProcess;
  /** The API processes started so far; the last one is alive. */
  const apis: ReverieProcess[] = [];
  let pool: Pool;
  /** The base URL of the live API. */
  const api = () => ({ url: apis[apis.length - 1].url! });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    env = await platformEnv({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'x',
      LLM_MODEL: 'fake-model',
    });
    [worker] = await Promise.all([
      spawnReverie('worker', env),
      spawnReverie('api', env).then((a) => apis.push(a)),
    ]);
    pool = testPool();
  });

  afterAll(async () => {
    await Promise.all([worker?.kill(), ...apis.map((a) => a.kill())]);
    await pool?.end();
    await fake?.close();
  });

  beforeEach(() => fake.reset());

  /** Kill the live API with SIGKILL (no graceful close of its streams). */
  async function killApi(): Promise<void> {
    const dead = apis[apis.length - 1];
    await dead.kill('SIGKILL');
    expect(dead.child.signalCode).toBe('SIGKILL');
  }

  /** Start a turn on a new session with a native stream; the client reads it in the background. */
  async function startStreamingTurn(content: string) {
    const response = await fetch(`${api().url}/v1/sessions/${await newSession()}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ content, stream: true }),
    });
    expect(response.status).toBe(200);
    const runId = response.headers.get('x-run-id')!;
    const client = new RunEventsClient();
    const firstConnection = client.consume(response);
    return { runId, client, firstConnection };
  }

  async function newSession(): Promise<string> {
    const res = await fetch(`${api().url}/v1/sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  async function runRow(runId: string) {
    const res = await pool.query<{ status: string; last_seq: string }>(
      'select status, last_seq from runs where id = $1',
      [runId],
    );
    return { status: res.rows[0].status, lastSeq: Number(res.rows[0].last_seq) };
  }

  /** Poll the database (the API may be down) until `check` holds. */
  async function untilRun(
    runId: string,
    check: (r: { status: string; lastSeq: number }) => boolean,
    what: string,
  ) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const row = await runRow(runId);
      if (check(row)) return row;
      if (Date.now() > deadline)
        throw new Error(`run ${runId}: timed out waiting for ${what} (${JSON.stringify(row)})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The persisted outcome: a succeeded run and exactly one completed assistant message with the text. */
  async function expectOneCompletedAnswer(runId: string, lastSeq: number) {
    const run = await getJson<RunJson>(`${api().url}/v1/runs/${runId}`);
    expect(run.status).toBe('succeeded');
    expect(run.last_seq).toBe(lastSeq);
    const messages = await pool.query<{ id: string; content: string; status: string }>(
      `select id, content, status from messages where run_id = $1 and role = 'assistant'`,
      [runId],
    );
    expect(messages.rows).toHaveLength(1);
    expect(messages.rows[0]).toMatchObject({ content: TEXT, status: 'completed' });
    expect(run.message_id).toBe(messages.rows[0].id);
  }

  /** Seqs 1..lastSeq each exactly once, across both connections; the text exactly once. */
  function expectCleanDelivery(client: RunEventsClient, lastSeq: number) {
    expect(client.seqProblems()).toEqual([]);
    expect(client.seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(client.done?.seq).toBe(lastSeq);
    expect(client.text).toBe(TEXT);
    expect(client.ofType('retry')).toHaveLength(0); // the worker never failed
  }

  it('resumes on a new API process while the turn is still streaming: run.state, then the rest live', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const { runId, client, firstConnection } = await startStreamingTurn('keep going without me');

    await gate.reached;
    await client.waitFor(
      (c) => c.text.length >= BEFORE_GATE * 4,
      10_000,
      'the deltas before the gate',
    );
    await killApi();
    const first = await firstConnection;
    expect(first.reason).not.toBe('done');
    expect(client.done).toBeUndefined();
    const seenBeforeCrash = client.lastSeq!;

    apis.push(await spawnReverie('api', env));
    // The turn is still running in the worker (held at the gate), untouched by the crash.
    expect((await runRow(runId)).status).toBe('running');

    const resumed = client.resume(api().url, runId);
    await client.waitFor(
      (c) => c.connections === 2 && c.ofConnection(1).length > 0,
      10_000,
      'the resumed stream',
    );
    gate.open();
    const second = await resumed;
    expect(second.reason).toBe('done');

    // The resumed stream starts with run.state (no id), then continues right after the cursor.
    const resumedFrames = client.ofConnection(1);
    expect(resumedFrames[0]).toMatchObject({ event: 'run.state', seq: undefined });
    expect(resumedFrames[0].data).toMatchObject({
      status: 'running',
      session_id: expect.any(String),
      model: 'fake-model',
    });
    expect(resumedFrames[0].data.last_seq).toBeGreaterThanOrEqual(seenBeforeCrash);
    expect(resumedFrames.filter((f) => f.event === 'run.state')).toHaveLength(1);
    expect(resumedFrames[1].seq).toBe(seenBeforeCrash + 1);

    const lastSeq = (await runRow(runId)).lastSeq;
    expectCleanDelivery(client, lastSeq);
    await expectOneCompletedAnswer(runId, lastSeq);
  });

  it('Responses: the openai SDK resumes with starting_after on a new API process, every event once', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const seen: ResponseStreamEvent[] = [];
    const first = readResponseEvents(
      await responsesClient(api().url).responses.create({
        model: 'fake-model',
        input: 'keep going without me',
        stream: true,
      }),
      seen,
    );
    await gate.reached;
    const deadline = Date.now() + 10_000;
    while (shownText(seen).length < BEFORE_GATE * 4 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shownText(seen)).toBe(TEXT.slice(0, BEFORE_GATE * 4));
    await killApi();
    await first;
    expect(seen.at(-1)!.type).toBe('response.output_text.delta');
    const responseId = (seen[0] as { response: { id: string } }).response.id;
    const runId = runIdOf(responseId);

    apis.push(await spawnReverie('api', env));
    expect((await runRow(runId)).status).toBe('running');
    const rest: ResponseStreamEvent[] = [];
    const resumed = readResponseEvents(
      await responsesClient(api().url).responses.retrieve(responseId, {
        stream: true,
        starting_after: seen.at(-1)!.sequence_number,
      }),
      rest,
    );
    gate.open();
    expect(await resumed).toBeUndefined();

    const all = [...seen, ...rest];
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(shownText(all)).toBe(TEXT);
    const completed = all.at(-1) as {
      type: string;
      response: { output_text?: string; output: { content: { text: string }[] }[] };
    };
    expect(completed.type).toBe('response.completed');
    expect(completed.response.output[0].content[0].text).toBe(TEXT);
    const lastSeq = (await untilRun(runId, (r) => r.status === 'succeeded', 'success')).lastSeq;
    await expectOneCompletedAnswer(runId, lastSeq);
  });

  it('Agent Protocol: the LangGraph SDK reconnects by itself to the API restarted on its port, every event once', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const port = new URL(api().url).port;
    const client = new Client({ apiUrl: `${api().url}/ap` });
    const thread = await client.threads.create();
    const parts: { event: string; data: unknown; id?: string }[] = [];
    let runId = '';
    const reading = (async () => {
      for await (const part of client.runs.stream(thread.thread_id, 'default', {
        input: { messages: [{ role: 'user', content: 'keep going without me' }] },
        streamMode: ['messages-tuple', 'values'],
        onRunCreated: (meta) => (runId = meta.run_id),
      }))
        parts.push(part);
    })();
    const chunkText = () =>
      parts
        .filter((p) => p.event === 'messages')
        .map((p) => (p.data as [{ content: string }])[0].content)
        .join('');
    await gate.reached;
    const deadline = Date.now() + 10_000;
    while (chunkText().length < BEFORE_GATE * 4 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(chunkText()).toBe(TEXT.slice(0, BEFORE_GATE * 4));
    const seenBeforeCrash = parts.length;
    await killApi();
    // The same port: the stream's `Location` stays valid, so the SDK's own retry finds it.
    apis.push(await spawnReverie('api', { ...env, PORT: port }));
    gate.open();
    await reading;

    expect(parts.length).toBeGreaterThan(seenBeforeCrash);
    expect(parts.map((p) => Number(p.id))).toEqual(parts.map((_, i) => i));
    expect(chunkText()).toBe(TEXT);
    const values = parts.filter((p) => p.event === 'values').at(-1)!.data as {
      messages: { type: string; content: string }[];
    };
    expect(values.messages.map((m) => m.type)).toEqual(['human', 'ai']);
    expect(values.messages[1].content).toBe(TEXT);
    const lastSeq = (await untilRun(runId, (r) => r.status === 'succeeded', 'success')).lastSeq;
    await expectOneCompletedAnswer(runId, lastSeq);
  });

  it('MCP: an ask cut off by the API crash, retried with its idempotency key on a new API, answers from the same turn', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const args = {
      question: 'keep going without me',
      idempotency_key: `crash-${crypto.randomUUID()}`,
    };
    const first = await mcpClient(api().url);
    const cut = first.callTool({ name: 'ask', arguments: args }).then(
      () => 'answered',
      () => 'failed',
    );
    await gate.reached;
    await killApi();
    expect(await cut).toBe('failed');
    await first.close().catch(() => undefined);

    apis.push(await spawnReverie('api', env));
    const again = await mcpClient(api().url);
    const retried = again.callTool({ name: 'ask', arguments: args });
    gate.open();
    const answer = toolJson<{ answer: string; run_id: string; status: string }>(await retried);
    await again.close();
    expect(answer).toMatchObject({ answer: TEXT, status: 'succeeded' });
    const lastSeq = (await runRow(answer.run_id)).lastSeq;
    await expectOneCompletedAnswer(answer.run_id, lastSeq);
    // The retry found the first call's turn: one run for the key, and the provider asked once.
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it('the turn finishes while no API is running; a resume replays the rest of the log and closes', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const { runId, client, firstConnection } = await startStreamingTurn('finish without any API');

    await gate.reached;
    await client.waitFor(
      (c) => c.text.length >= BEFORE_GATE * 4,
      10_000,
      'the deltas before the gate',
    );
    await killApi();
    const first = await firstConnection;
    expect(first.reason).not.toBe('done');
    const seenBeforeCrash = client.lastSeq!;

    // No API process exists now: the worker alone finishes the turn.
    gate.open();
    const finished = await untilRun(
      runId,
      (r) => r.status === 'succeeded',
      'the run to succeed with no API',
    );
    expect(finished.lastSeq).toBeGreaterThan(seenBeforeCrash);

    apis.push(await spawnReverie('api', env));
    const second = await client.resume(api().url, runId);
    expect(second.reason).toBe('done');
    const resumedFrames = client.ofConnection(1);
    expect(resumedFrames[0]).toMatchObject({ event: 'run.state', seq: undefined });
    expect(resumedFrames[0].data).toMatchObject({
      status: 'succeeded',
      last_seq: finished.lastSeq,
      message_id: expect.any(String),
    });
    expect(resumedFrames[1].seq).toBe(seenBeforeCrash + 1);
    expectCleanDelivery(client, finished.lastSeq);
    await expectOneCompletedAnswer(runId, finished.lastSeq);

    // A fresh reader without a cursor gets the whole log (no run.state), then the stream closes.
    const fresh = new RunEventsClient();
    expect((await fresh.resume(api().url, runId)).reason).toBe('done');
    expect(fresh.ofType('run.state')).toHaveLength(0);
    expectCleanDelivery(fresh, finished.lastSeq);

    // A reader that already has everything (cursor = the `done` seq) gets run.state and an immediate close.
    const bounded = AbortSignal.timeout(5_000); // a stream that never closes fails here, not at jest's timeout
    const caughtUp = await fetch(`${api().url}/v1/runs/${runId}/events`, {
      headers: { Accept: 'text/event-stream', 'Last-Event-ID': String(finished.lastSeq) },
      signal: bounded,
    });
    const tail = new RunEventsClient();
    const end = await tail.consume(caughtUp, bounded);
    expect(end.reason).toBe('closed');
    expect(tail.frames.map((f) => f.event)).toEqual(['run.state']);
    expect(tail.frames[0].data).toMatchObject({ status: 'succeeded', last_seq: finished.lastSeq });
  });

  it('a client that disconnects mid-stream does not stop the turn', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE });
    const controller = new AbortController();
    const response = await fetch(`${api().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        model: 'fake-model',
        stream: true,
        messages: [{ role: 'user', content: 'I will hang up' }],
      }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const runId = response.headers.get('x-run-id')!;
    const sessionId = response.headers.get('x-session-id')!;

    let seen = '';
    let resolveSome!: () => void;
    const some = new Promise<void>((resolve) => (resolveSome = resolve));
    const reading = readChunkStream(response, (text) => {
      seen = text;
      if (text.length >= BEFORE_GATE * 4) resolveSome();
    });
    await gate.reached;
    await some;
    controller.abort(); // the client goes away mid-answer
    const partial = await reading;
    expect(partial.sawDone).toBe(false);
    expect(seen.length).toBeLessThan(TEXT.length);

    gate.open();
    const waited = await getJson<RunJson & { message: MessageJson | null }>(
      `${api().url}/v1/runs/${runId}/wait?timeout=30`,
    );
    expect(waited.status).toBe('succeeded');
    expect(waited.message).toMatchObject({ role: 'assistant', content: TEXT, status: 'completed' });
    await expectOneCompletedAnswer(runId, waited.last_seq);

    const history = await getJson<{ data: MessageJson[] }>(
      `${api().url}/v1/sessions/${sessionId}/messages`,
    );
    expect(history.data.map((m) => [m.role, m.content])).toEqual([
      ['user', 'I will hang up'],
      ['assistant', TEXT],
    ]);
  });
});
