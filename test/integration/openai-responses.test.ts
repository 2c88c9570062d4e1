import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

type ChatBody = { messages: { role: string; content: string }[] };

/**
 * The official `openai` client's Responses and Conversations resources against
 * our façade, with the fake provider behind it: a response is a run, a
 * conversation a session, and every stream is the run's event log.
 */
describe('OpenAI Responses façade', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
    });
    client = new OpenAI({ baseURL: `${platform.url}/v1`, apiKey: platform.apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  /** The messages the provider was sent on its last call. */
  const lastPrompt = () => (fake.chatRequests().at(-1)!.body as ChatBody).messages;
  /** The conversation the provider was sent, without the system prompt. */
  const lastDialogue = () =>
    lastPrompt()
      .filter((m) => m.role !== 'system')
      .map((m) => m.content);
  const runCount = async () =>
    Number((await platform.pool.query('select count(*) from runs')).rows[0].count);

  async function collect(stream: AsyncIterable<ResponseStreamEvent>) {
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    return events;
  }

  /** Without the SDK's own `output_text` (it adds that to what it returns). */
  const plain = (r: object) => {
    const { output_text: _ignored, ...rest } = r as { output_text?: string };
    return rest;
  };

  it('answers a response with its text, usage and instructions, and retrieves the same object', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'Paris.',
      usage: { prompt_tokens: 12, completion_tokens: 2 },
    });
    const res = await client.responses.create({
      model: 'fake-model',
      instructions: 'Answer in one word.',
      input: 'Capital of France?',
      metadata: { ticket: 't-1' },
    });
    expect(res.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(res.output_text).toBe('Paris.');
    expect(res.usage).toMatchObject({ input_tokens: 12, output_tokens: 2, total_tokens: 14 });
    expect(res.instructions).toBe('Answer in one word.');
    expect(res.metadata).toEqual({ ticket: 't-1' });
    expect(lastPrompt()[0]).toMatchObject({ role: 'system' });
    expect(lastPrompt()[0].content).toContain('Answer in one word.');
    expect(lastPrompt().at(-1)).toEqual({ role: 'user', content: 'Capital of France?' });
    const again = await client.responses.retrieve(res.id);
    expect(plain(again)).toEqual(plain(res));
    const items = await client.responses.inputItems.list(res.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'Capital of France?' }],
    });
  });

  it('streams numbered events whose final response is what retrieve answers', async () => {
    fake.enqueue({ kind: 'text', text: 'one two three four', chunkChars: 3 });
    const events = await collect(
      await client.responses.create({ model: 'fake-model', input: 'count', stream: true }),
    );
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => (e as { delta: string }).delta)
      .join('');
    expect(text).toBe('one two three four');
    const completed = events.at(-1) as { response: OpenAI.Responses.Response };
    expect(completed.response.output[0]).toMatchObject({
      type: 'message',
      status: 'completed',
      content: [{ type: 'output_text', text: 'one two three four' }],
    });
    const retrieved = await client.responses.retrieve(completed.response.id);
    expect(plain(retrieved)).toEqual(completed.response);
  });

  it('resumes a stream with starting_after: the tail is event for event the original', async () => {
    fake.enqueue({ kind: 'text', text: 'resume me exactly once please', chunkChars: 5 });
    const events = await collect(
      await client.responses.create({ model: 'fake-model', input: 'go', stream: true }),
    );
    const id = (events[0] as { response: { id: string } }).response.id;
    const cut = 4;
    const tail = await collect(
      await client.responses.retrieve(id, { stream: true, starting_after: cut }),
    );
    expect(tail).toEqual(events.slice(cut + 1));
    // The SDK's helper rebuilds the response from a resumed stream as well.
    const helper = client.responses.stream({ response_id: id, starting_after: cut });
    const final = await helper.finalResponse();
    expect(final.output_text).toBe('resume me exactly once please');
  });

  it('runs in the background: answers at once, then completes; cancel stops a running one', async () => {
    fake.enqueue({ kind: 'text', text: 'done later', firstTokenDelayMs: 200 });
    const res = await client.responses.create({
      model: 'fake-model',
      input: 'take your time',
      background: true,
    });
    expect(['queued', 'in_progress']).toContain(res.status);
    expect(res.background).toBe(true);
    const deadline = Date.now() + 30_000;
    let current = res;
    while (current.status !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      current = await client.responses.retrieve(res.id);
    }
    expect(current.output_text).toBe('done later');

    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'never finished text', gate, afterChunks: 2 });
    const running = await client.responses.create({
      model: 'fake-model',
      input: 'stop me',
      background: true,
    });
    await gate.reached;
    const cancelled = await client.responses.cancel(running.id);
    expect(cancelled.status).toBe('cancelled');
    gate.open();
    // The partial answer is kept, marked incomplete.
    expect(cancelled.output[0]).toMatchObject({ status: 'incomplete' });
  });

  it('continues by previous_response_id, and forks when that response is no longer the latest', async () => {
    fake.enqueue(
      { kind: 'text', text: 'First answer.' },
      { kind: 'text', text: 'Second answer.' },
      { kind: 'text', text: 'Forked answer.' },
    );
    const first = await client.responses.create({ model: 'fake-model', input: 'first question' });
    const second = await client.responses.create({
      model: 'fake-model',
      previous_response_id: first.id,
      input: 'second question',
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(lastDialogue()).toEqual(['first question', 'First answer.', 'second question']);
    await client.responses.create({
      model: 'fake-model',
      previous_response_id: first.id,
      input: 'another second question',
    });
    expect(lastDialogue()).toEqual(['first question', 'First answer.', 'another second question']);
  });

  it('keeps a conversation: items in, the answer as an item, update and delete', async () => {
    const conversation = await client.conversations.create({
      metadata: { topic: 'names' },
      items: [
        { type: 'message', role: 'user', content: 'My name is Ada.' },
        { type: 'message', role: 'assistant', content: 'Hello Ada.' },
      ],
    });
    expect(conversation.id).toMatch(/^conv_[0-9a-f]{32}$/);
    expect(conversation.metadata).toEqual({ topic: 'names' });
    fake.enqueue({ kind: 'text', text: 'Your name is Ada.' });
    const res = await client.responses.create({
      model: 'fake-model',
      conversation: conversation.id,
      input: 'What is my name?',
    });
    expect(res.conversation).toEqual({ id: conversation.id });
    expect(lastDialogue()).toEqual(['My name is Ada.', 'Hello Ada.', 'What is my name?']);

    const items: OpenAI.Conversations.ConversationItem[] = [];
    for await (const item of client.conversations.items.list(conversation.id, {
      order: 'asc',
      limit: 2,
    }))
      items.push(item);
    expect(items.map((i) => i.type)).toEqual(['message', 'message', 'message', 'message']);
    // The answer is the same item the response output.
    expect(items[3].id).toBe(res.output[0].id);
    expect(items[3]).toMatchObject({ role: 'assistant', status: 'completed' });

    const added = await client.conversations.items.create(conversation.id, {
      items: [{ type: 'message', role: 'user', content: 'Remember: I like tea.' }],
    });
    expect(added.data).toHaveLength(1);
    const addedId = added.data[0].id!;
    const fetched = await client.conversations.items.retrieve(addedId, {
      conversation_id: conversation.id,
    });
    expect(fetched).toEqual(added.data[0]);
    await client.conversations.items.delete(addedId, { conversation_id: conversation.id });
    await expect(
      client.conversations.items.retrieve(addedId, { conversation_id: conversation.id }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const updated = await client.conversations.update(conversation.id, {
      metadata: { topic: 'renamed' },
    });
    expect(updated.metadata).toEqual({ topic: 'renamed' });
    const deleted = await client.conversations.delete(conversation.id);
    expect(deleted).toMatchObject({ id: conversation.id, deleted: true });
    await expect(client.conversations.retrieve(conversation.id)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });

  it('is 404 model_not_found when the provider does not know the model', async () => {
    fake.enqueue({ kind: 'error', status: 404 }, { kind: 'error', status: 404 });
    await expect(
      client.responses.create({ model: 'unknown-to-provider', input: 'hi' }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('deletes a finished response', async () => {
    fake.enqueue({ kind: 'text', text: 'short-lived' });
    const res = await client.responses.create({ model: 'fake-model', input: 'bye' });
    await client.responses.delete(res.id);
    await expect(client.responses.retrieve(res.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('refuses bad requests in the contract shape and stores nothing', async () => {
    const before = await runCount();
    const cases: [Record<string, unknown>, number, string][] = [
      [{ model: 'fake-model', input: '' }, 400, 'invalid_request'],
      [{ model: 'fake-model', input: 'hi', previous_response_id: 'nope' }, 400, 'invalid_request'],
      [
        { model: 'fake-model', input: 'hi', previous_response_id: `resp_${'0'.repeat(32)}` },
        404,
        'not_found',
      ],
      [
        { model: 'fake-model', input: 'hi', conversation: `conv_${'a'.repeat(32)}` },
        404,
        'not_found',
      ],
      [
        {
          model: 'fake-model',
          input: 'hi',
          conversation: `conv_${'a'.repeat(32)}`,
          previous_response_id: `resp_${'0'.repeat(32)}`,
        },
        400,
        'invalid_request',
      ],
      [
        { model: 'fake-model', input: 'hi', tools: [{ type: 'web_search' }] },
        400,
        'invalid_request',
      ],
      [
        { model: 'fake-model', input: [{ role: 'user', content: [{ type: 'input_image' }] }] },
        400,
        'invalid_request',
      ],
    ];
    for (const [body, status, code] of cases) {
      const res = await fetch(`${platform.url}/v1/responses`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${platform.apiKey}` },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect({ body, status: res.status, code: json.error?.code }).toEqual({ body, status, code });
      expect(typeof json.error.message).toBe('string');
    }
    expect(await runCount()).toBe(before);
  });
});
