import { Client } from '@langchain/langgraph-sdk';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

type ChatBody = { messages: { role: string; content: string }[] };
type Message = { type: string; id: string; content: string };
type Part = { event: string; data: unknown; id?: string };

/**
 * The official LangGraph SDK (`@langchain/langgraph-sdk`) against the Agent
 * Protocol façade under `/ap`, with the fake provider behind it: a thread is
 * a session, a run a durable turn, and every stream the run's event log.
 */
describe('Agent Protocol (LangGraph) façade', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let client: Client;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
    });
    client = new Client({ apiUrl: `${platform.url}/ap`, apiKey: platform.apiKey });
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const dialogue = () =>
    (fake.chatRequests().at(-1)!.body as ChatBody).messages
      .filter((m) => m.role !== 'system')
      .map((m) => m.content);
  const human = (content: string) => ({ messages: [{ role: 'user', content }] });
  const collect = async (stream: AsyncIterable<Part>) => {
    const parts: Part[] = [];
    for await (const part of stream) parts.push(part);
    return parts;
  };

  it('lists the served assistants', async () => {
    const assistants = await client.assistants.search();
    expect(assistants.map((a) => a.graph_id)).toContain('default');
    const byId = await client.assistants.get(assistants[0].assistant_id);
    expect(byId).toEqual(assistants[0]);
    await expect(client.assistants.get('no-such-assistant')).rejects.toMatchObject({
      status: 404,
    });
  });

  it('runs a turn on a thread and keeps the state: wait, state, search, history', async () => {
    const thread = await client.threads.create({ metadata: { owner: 'ada' } });
    fake.enqueue({ kind: 'text', text: 'Paris.' }, { kind: 'text', text: 'About 2 million.' });
    const values = (await client.runs.wait(thread.thread_id, 'default', {
      input: human('Capital of France?'),
    })) as { messages: Message[] };
    expect(values.messages.map((m) => [m.type, m.content])).toEqual([
      ['human', 'Capital of France?'],
      ['ai', 'Paris.'],
    ]);
    await client.runs.wait(thread.thread_id, 'default', { input: human('Its population?') });
    expect(dialogue()).toEqual(['Capital of France?', 'Paris.', 'Its population?']);

    const state = await client.threads.getState<{ messages: Message[] }>(thread.thread_id);
    expect(state.values.messages).toHaveLength(4);
    expect(state.next).toEqual([]);
    const history = await client.threads.getHistory<{ messages: Message[] }>(thread.thread_id);
    expect(history.map((h) => h.values.messages.length)).toEqual([4, 2]);

    const found = await client.threads.search({ metadata: { owner: 'ada' } });
    expect(found.map((t) => t.thread_id)).toEqual([thread.thread_id]);
    const got = await client.threads.get<{ messages: Message[] }>(thread.thread_id);
    expect(got.status).toBe('idle');
    expect(got.values.messages.at(-1)!.content).toBe('About 2 million.');
    await client.threads.update(thread.thread_id, { metadata: { topic: 'geo' } });
    expect((await client.threads.get(thread.thread_id)).metadata).toEqual({
      owner: 'ada',
      topic: 'geo',
    });
  });

  it('streams values, message chunks and updates, and a join with Last-Event-ID replays the tail', async () => {
    const thread = await client.threads.create();
    fake.enqueue({ kind: 'text', text: 'streamed in small parts', chunkChars: 4 });
    let runId = '';
    const parts = await collect(
      client.runs.stream(thread.thread_id, 'default', {
        input: human('stream please'),
        streamMode: ['values', 'messages-tuple', 'updates'],
        onRunCreated: (meta) => (runId = meta.run_id),
      }),
    );
    expect(parts[0]).toMatchObject({ event: 'metadata', data: { run_id: runId } });
    expect(parts.map((p) => Number(p.id))).toEqual(parts.map((_, i) => i));
    const chunks = parts.filter((p) => p.event === 'messages');
    const text = chunks.map((p) => (p.data as [Message, unknown])[0].content).join('');
    expect(text).toBe('streamed in small parts');
    const values = parts.filter((p) => p.event === 'values');
    expect(values).toHaveLength(2);
    const final = (values[1].data as { messages: Message[] }).messages;
    expect(final.map((m) => m.type)).toEqual(['human', 'ai']);
    // The chunks and the final state name the same message; the state matches the thread's.
    expect((chunks[0].data as [Message])[0].id).toBe(final[1].id);
    const state = await client.threads.getState<{ messages: Message[] }>(thread.thread_id);
    expect(state.values.messages).toEqual(final);
    expect(parts.find((p) => p.event === 'updates')?.data).toEqual({
      agent: { messages: [final[1]] },
    });

    const tail = await collect(
      client.runs.joinStream(thread.thread_id, runId, {
        lastEventId: '3',
        streamMode: ['values', 'messages-tuple', 'updates'],
      }),
    );
    expect(tail).toEqual(parts.slice(4));
  });

  it('runs in the background: create, join, list, get', async () => {
    const thread = await client.threads.create();
    fake.enqueue({ kind: 'text', text: 'later', firstTokenDelayMs: 100 });
    const run = await client.runs.create(thread.thread_id, 'default', {
      input: human('no hurry'),
      metadata: { job: 7 },
    });
    expect(['pending', 'running']).toContain(run.status);
    const joined = (await client.runs.join(thread.thread_id, run.run_id)) as {
      messages: Message[];
    };
    expect(joined.messages.at(-1)!.content).toBe('later');
    const got = await client.runs.get(thread.thread_id, run.run_id);
    expect(got).toMatchObject({ status: 'success', metadata: { job: 7 }, assistant_id: 'default' });
    expect((await client.runs.list(thread.thread_id)).map((r) => r.run_id)).toEqual([run.run_id]);
  });

  it('rejects a second run on a busy thread by default, and cancels (interrupt, rollback)', async () => {
    const thread = await client.threads.create();
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'held at the gate for a while', gate, afterChunks: 2 });
    const run = await client.runs.create(thread.thread_id, 'default', { input: human('hold') });
    await gate.reached;
    expect((await client.threads.get(thread.thread_id)).status).toBe('busy');
    await expect(
      client.runs.create(thread.thread_id, 'default', { input: human('me too') }),
    ).rejects.toMatchObject({ status: 409 });
    await client.runs.cancel(thread.thread_id, run.run_id, true);
    gate.open();
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe('interrupted');

    const gate2 = createGate();
    fake.enqueue({ kind: 'gate', text: 'rolled back text', gate: gate2, afterChunks: 1 });
    const doomed = await client.runs.create(thread.thread_id, 'default', { input: human('undo') });
    await gate2.reached;
    await client.runs.cancel(thread.thread_id, doomed.run_id, true, 'rollback');
    gate2.open();
    await expect(client.runs.get(thread.thread_id, doomed.run_id)).rejects.toMatchObject({
      status: 404,
    });
    const state = await client.threads.getState<{ messages: Message[] }>(thread.thread_id);
    expect(state.values.messages.map((m) => m.content)).not.toContain('undo');
  });

  it('runs stateless with the whole conversation as input, and deletes threads', async () => {
    fake.enqueue({ kind: 'text', text: 'You said hi.' });
    const values = (await client.runs.wait(null, 'default', {
      input: {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
          { role: 'user', content: 'what did I say?' },
        ],
      },
    })) as { messages: Message[] };
    expect(dialogue()).toEqual(['hi', 'hello', 'what did I say?']);
    expect(values.messages.at(-1)!.content).toBe('You said hi.');

    const thread = await client.threads.create();
    await client.threads.delete(thread.thread_id);
    await expect(client.threads.get(thread.thread_id)).rejects.toMatchObject({ status: 404 });
  });

  it('refuses bad runs in the contract shape and starts nothing', async () => {
    const thread = await client.threads.create();
    const before = Number((await platform.pool.query('select count(*) from runs')).rows[0].count);
    const post = (path: string, body: unknown) =>
      fetch(`${platform.url}/ap${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Api-Key': platform.apiKey },
        body: JSON.stringify(body),
      });
    const cases: [string, unknown, number][] = [
      [`/threads/${thread.thread_id}/runs`, { assistant_id: 'nope', input: human('x') }, 404],
      [`/threads/${thread.thread_id}/runs`, { assistant_id: 'default' }, 400],
      [`/threads/${thread.thread_id}/runs`, { assistant_id: 'default', input: human('') }, 400],
      [`/threads/not-a-uuid/runs`, { assistant_id: 'default', input: human('x') }, 400],
      [`/threads/${crypto.randomUUID()}/runs`, { assistant_id: 'default', input: human('x') }, 404],
      [
        `/threads/${thread.thread_id}/runs`,
        { assistant_id: 'default', input: human('x'), interrupt_before: ['agent'] },
        400,
      ],
    ];
    for (const [path, body, status] of cases) {
      const res = await post(path, body);
      const json = (await res.json()) as { error?: { code: string; message: string } };
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(typeof json.error?.message).toBe('string');
    }
    expect(Number((await platform.pool.query('select count(*) from runs')).rows[0].count)).toBe(
      before,
    );
  });
});
