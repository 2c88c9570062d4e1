/**
 * Crash survival, worker side: `kill -9` the worker process while a turn is
 * streaming. Temporal notices the lost heartbeat (5 s, MODEL_STEP), retries the
 * model step on a new worker process, the retry announces `retry` with
 * `discard_from_seq`, and every client ends with the full text exactly once,
 * one completed assistant message, and a succeeded run.
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
  'Durable turns survive a dead worker: the retry repeats the answer and the client discards the first attempt.';
/** Chunks of 4 characters the fake sends before it holds at the gate. */
const BEFORE_GATE = 6;

describe('crash: worker killed with -9 mid-stream', () => {
  let fake: FakeOpenAI;
  let env: Record<string, string>;
  let api: ReverieProcess;
  let apiUrl: string;
  const workers: ReverieProcess[] = [];
  let pool: Pool;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    env = await platformEnv({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'x',
      LLM_MODEL: 'fake-model',
    });
    [api] = await Promise.all([
      spawnReverie('api', env),
      spawnReverie('worker', env).then((w) => workers.push(w)),
    ]);
    apiUrl = api.url!;
    pool = testPool();
  });

  afterAll(async () => {
    await Promise.all([api?.kill(), ...workers.map((w) => w.kill())]);
    await pool?.end();
    await fake?.close();
  });

  beforeEach(() => fake.reset());

  /** Kill the live worker with SIGKILL, then start a fresh worker process on the same task queue. */
  async function replaceWorker(): Promise<void> {
    const dead = workers[workers.length - 1];
    await dead.kill('SIGKILL');
    expect(dead.child.signalCode).toBe('SIGKILL');
    workers.push(await spawnReverie('worker', env));
  }

  /** What the database holds for a finished run: the run row, its assistant messages, its log. */
  async function persisted(runId: string) {
    const run = await getJson<RunJson>(`${apiUrl}/v1/runs/${runId}`);
    const messages = await pool.query<{ id: string; content: string; status: string }>(
      `select id, content, status from messages where run_id = $1 and role = 'assistant' order by seq`,
      [runId],
    );
    const events = await pool.query<{
      seq: string;
      type: string;
      data: Record<string, unknown>;
      attempt: number | null;
    }>('select seq, type, data, attempt from run_events where run_id = $1 order by seq', [runId]);
    return {
      run,
      messages: messages.rows,
      events: events.rows.map((e) => ({ ...e, seq: Number(e.seq) })),
    };
  }

  /** The native client's view must be exactly the log: seqs 1..N once each, text once, one retry. */
  function expectCleanNativeDelivery(client: RunEventsClient, lastSeq: number) {
    expect(client.seqProblems()).toEqual([]);
    expect(client.lastSeq).toBe(lastSeq);
    expect(client.seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(client.done?.seq).toBe(lastSeq);
    expect(client.text).toBe(TEXT);
    const retries = client.ofType('retry');
    expect(retries).toHaveLength(1);
    const firstDelta = client.ofType('message.delta')[0];
    // The retry discards exactly the first attempt's output, which began at the first delta.
    expect(retries[0].data.discard_from_seq).toBe(firstDelta.seq);
    expect(retries[0].data.attempt).toBe(2);
    expect(client.discarded.map((d) => d.content).join('')).toBe(TEXT.slice(0, BEFORE_GATE * 4));
  }

  async function expectOneCompletedAnswer(runId: string, lastSeq: number) {
    const { run, messages, events } = await persisted(runId);
    expect(run.status).toBe('succeeded');
    expect(run.last_seq).toBe(lastSeq);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ content: TEXT, status: 'completed' });
    expect(run.message_id).toBe(messages[0].id);
    const retry = events.filter((e) => e.type === 'retry');
    expect(retry).toHaveLength(1);
    expect(typeof retry[0].data.discard_from_seq).toBe('number');
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'run.started')).toHaveLength(1);
    // The provider was called twice: the attempt that died with the worker, and the retry.
    expect(fake.chatRequests()).toHaveLength(2);
  }

  it('POST /v1/chat/completions stream: the SDK stream and a native reader both get the text exactly once', async () => {
    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
      { kind: 'text', text: TEXT },
    );

    const response = await fetch(`${apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        model: 'fake-model',
        stream: true,
        messages: [{ role: 'user', content: 'survive this' }],
      }),
    });
    expect(response.status).toBe(200);
    const runId = response.headers.get('x-run-id')!;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);

    let sdkTextBeforeKill = '';
    const chunks = readChunkStream(response, (text) => (sdkTextBeforeKill = text));
    const native = new RunEventsClient();
    const nativeDone = native.follow(apiUrl, runId, { timeoutMs: 60_000 });

    await gate.reached;
    await native.waitFor(
      (c) => c.text.length >= BEFORE_GATE * 4,
      10_000,
      'the deltas before the gate',
    );
    await replaceWorker();
    const textAtKill = sdkTextBeforeKill;

    const [sdk] = await Promise.all([chunks, nativeDone]);
    gate.open();

    // The OpenAI stream cannot take text back: the renderer swallowed the repeated prefix.
    expect(textAtKill.length).toBeGreaterThan(0);
    expect(sdk.error).toBeUndefined();
    expect(sdk.text).toBe(TEXT);
    expect(sdk.sawDone).toBe(true);
    expect(sdk.finishReason).toBe('stop');

    expect(native.connections).toBe(1); // the API stayed up: one connection, no resume needed
    expectCleanNativeDelivery(native, native.lastSeq!);
    await expectOneCompletedAnswer(runId, native.lastSeq!);
  });

  it('POST /v1/responses stream: the openai SDK sees every event once and the text once across the retry', async () => {
    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
      { kind: 'text', text: TEXT },
    );
    const events: ResponseStreamEvent[] = [];
    const reading = readResponseEvents(
      await responsesClient(apiUrl).responses.create({
        model: 'fake-model',
        input: 'survive this',
        stream: true,
      }),
      events,
    );
    await gate.reached;
    const deadline = Date.now() + 10_000;
    while (shownText(events).length < BEFORE_GATE * 4 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shownText(events)).toBe(TEXT.slice(0, BEFORE_GATE * 4));
    await replaceWorker();
    expect(await reading).toBeUndefined();
    gate.open();

    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    // The repeated prefix of the retried attempt was swallowed.
    expect(shownText(events)).toBe(TEXT);
    expect(events.filter((e) => e.type === 'response.output_item.added')).toHaveLength(1);
    const done = events.find((e) => e.type === 'response.output_text.done') as { text: string };
    expect(done.text).toBe(TEXT);
    expect(events.at(-1)!.type).toBe('response.completed');
    const runId = runIdOf((events[0] as { response: { id: string } }).response.id);
    const { run } = await persisted(runId);
    await expectOneCompletedAnswer(runId, run.last_seq);
  });

  it('Agent Protocol run stream: the LangGraph SDK sees every event once and the text once across the retry', async () => {
    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
      { kind: 'text', text: TEXT },
    );
    const client = new Client({ apiUrl: `${apiUrl}/ap` });
    const thread = await client.threads.create();
    const parts: { event: string; data: unknown; id?: string }[] = [];
    let runId = '';
    const reading = (async () => {
      for await (const part of client.runs.stream(thread.thread_id, 'default', {
        input: { messages: [{ role: 'user', content: 'survive this' }] },
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
    await replaceWorker();
    await reading;
    gate.open();

    expect(parts.map((p) => Number(p.id))).toEqual(parts.map((_, i) => i));
    expect(chunkText()).toBe(TEXT);
    const values = parts.filter((p) => p.event === 'values').at(-1)!.data as {
      messages: { type: string; content: string }[];
    };
    expect(values.messages.map((m) => [m.type, m.content])).toEqual([
      ['human', 'survive this'],
      ['ai', TEXT],
    ]);
    const { run } = await persisted(runId);
    await expectOneCompletedAnswer(runId, run.last_seq);
  });

  it('MCP ask: the tool call outlives the worker and answers with the text once', async () => {
    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
      { kind: 'text', text: TEXT },
    );
    const client = await mcpClient(apiUrl);
    const asking = client.callTool({ name: 'ask', arguments: { question: 'survive this' } });
    await gate.reached;
    // Killed once the first attempt's text is in the log, so the retry has something to discard.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from run_events e
         where e.run_id = (select id from runs where kind = 'turn' order by created_at desc limit 1)
           and e.type = 'message.delta'`,
      );
      if (rows[0].n > 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await replaceWorker();
    const answer = toolJson<{ answer: string; run_id: string; status: string }>(await asking);
    gate.open();
    await client.close();
    expect(answer).toMatchObject({ answer: TEXT, status: 'succeeded' });
    const { run } = await persisted(answer.run_id);
    await expectOneCompletedAnswer(answer.run_id, run.last_seq);
  });

  it('POST /v1/sessions/{id}/messages stream (native): resumes if dropped, text exactly once, one message', async () => {
    const session = await getJson<{ id: string }>(`${apiUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(session.id).toMatch(/^[0-9a-f-]{36}$/);

    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: TEXT, gate, afterChunks: BEFORE_GATE },
      { kind: 'text', text: TEXT },
    );
    const response = await fetch(`${apiUrl}/v1/sessions/${session.id}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'survive this too', stream: true }),
    });
    expect(response.status).toBe(200);
    const runId = response.headers.get('x-run-id')!;

    const client = new RunEventsClient();
    const streamed = (async () => {
      const first = await client.consume(response);
      // A dropped connection is resumed from the last seq; normally the first one reaches `done`.
      if (!client.done) await client.follow(apiUrl, runId, { timeoutMs: 60_000 });
      return first;
    })();

    await gate.reached;
    await client.waitFor(
      (c) => c.text.length >= BEFORE_GATE * 4,
      10_000,
      'the deltas before the gate',
    );
    await replaceWorker();
    const first = await streamed;
    gate.open();

    expect(first.reason).toBe('done');
    expectCleanNativeDelivery(client, client.lastSeq!);
    await expectOneCompletedAnswer(runId, client.lastSeq!);

    // The session history holds the user message and the one answer, nothing from the dead attempt.
    const history = await getJson<{ data: MessageJson[] }>(
      `${apiUrl}/v1/sessions/${session.id}/messages`,
    );
    expect(history.data.map((m) => [m.role, m.content])).toEqual([
      ['user', 'survive this too'],
      ['assistant', TEXT],
    ]);
  });
});
