import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import {
  createGate,
  fakeEmbedding,
  startFakeOpenAI,
  type FakeOpenAI,
} from '../helpers/fake-openai';

/** What a provider assembles from a stream: the parts tests assert on. */
interface Assembled {
  role?: string;
  content: string;
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
  usage: ChatCompletionChunk['usage'];
  chunks: number;
}

async function assemble(stream: AsyncIterable<ChatCompletionChunk>): Promise<Assembled> {
  const out: Assembled = {
    content: '',
    reasoning: '',
    toolCalls: [],
    finishReason: null,
    usage: undefined,
    chunks: 0,
  };
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta as ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };
    out.role ??= delta.role ?? undefined;
    out.content += delta.content ?? '';
    out.reasoning += delta.reasoning_content ?? '';
    for (const call of delta.tool_calls ?? []) {
      const slot = (out.toolCalls[call.index] ??= { id: '', name: '', arguments: '' });
      slot.id ||= call.id ?? '';
      slot.name += call.function?.name ?? '';
      slot.arguments += call.function?.arguments ?? '';
    }
    if (choice.finish_reason) out.finishReason = choice.finish_reason;
  }
  return out;
}

describe('fake OpenAI server', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ baseURL: fake.baseURL, apiKey: 'test', maxRetries: 0 });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  const user = (content: string) => [{ role: 'user' as const, content }];

  it('echoes the last user message by default, without streaming', async () => {
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'x' },
        { role: 'user', content: 'second' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.content).toBe('echo: second');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({
      prompt_tokens: Math.ceil('firstxsecond'.length / 4),
      completion_tokens: 3,
      total_tokens: 3 + 3,
    });
  });

  it('records requests before answering', async () => {
    await client.chat.completions.create({ model: 'rec-model', messages: user('hi') });
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.chatRequests();
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      body: { model: 'rec-model', messages: user('hi') },
    });
    expect(request?.headers.authorization).toBe('Bearer test');
    expect(typeof request?.time).toBe('number');
  });

  it('streams text with reasoning and a usage chunk', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'Hello streaming world',
      reasoning: 'thinking hard',
      chunkChars: 5,
      usage: { prompt_tokens: 7, completion_tokens: 11 },
    });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: user('go'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const out = await assemble(stream);
    expect(out).toMatchObject({
      role: 'assistant',
      content: 'Hello streaming world',
      reasoning: 'thinking hard',
      finishReason: 'stop',
    });
    expect(out.usage).toEqual({ prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 });
    // role + 3 reasoning + 5 content + finish + usage
    expect(out.chunks).toBe(1 + 3 + 5 + 1 + 1);
  });

  it('omits the usage chunk unless asked', async () => {
    fake.enqueue({ kind: 'text', text: 'abc', finishReason: 'length' });
    const out = await assemble(
      await client.chat.completions.create({ model: 'm', messages: user('go'), stream: true }),
    );
    expect(out).toMatchObject({ content: 'abc', finishReason: 'length', usage: undefined });
  });

  it('paces chunks by firstTokenDelayMs and tokenDelayMs', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'abcdefgh',
      chunkChars: 2,
      firstTokenDelayMs: 60,
      tokenDelayMs: 20,
    });
    const started = Date.now();
    await assemble(
      await client.chat.completions.create({ model: 'm', messages: user('go'), stream: true }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(60 + 3 * 20 - 5);
  });

  it('streams tool calls in the OpenAI delta format', async () => {
    fake.enqueue({
      kind: 'toolCalls',
      text: 'Let me check.',
      calls: [
        { id: 'call_a', name: 'lookup', arguments: { id: '42', deep: true } },
        { name: 'search', arguments: '{"q":"cats"}' },
      ],
    });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: user('go'),
      stream: true,
    });
    const out = await assemble(stream);
    expect(out.content).toBe('Let me check.');
    expect(out.finishReason).toBe('tool_calls');
    expect(out.toolCalls).toEqual([
      { id: 'call_a', name: 'lookup', arguments: '{"id":"42","deep":true}' },
      { id: expect.stringMatching(/^call_fake_/), name: 'search', arguments: '{"q":"cats"}' },
    ]);
  });

  it('assembles tool calls with the client stream helper', async () => {
    fake.enqueue({
      kind: 'toolCalls',
      calls: [{ id: 'call_x', name: 'lookup', arguments: { id: 'abc' } }],
    });
    const runner = client.chat.completions.stream({ model: 'm', messages: user('go') });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls).toEqual([
      { id: 'call_x', type: 'function', function: { name: 'lookup', arguments: '{"id":"abc"}' } },
    ]);
  });

  it('returns tool calls without streaming', async () => {
    fake.enqueue({
      kind: 'toolCalls',
      calls: [{ id: 'call_1', name: 'lookup', arguments: { id: 'x' } }],
    });
    const completion = await client.chat.completions.create({ model: 'm', messages: user('go') });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message).toMatchObject({
      content: null,
      tool_calls: [{ id: 'call_1', function: { name: 'lookup', arguments: '{"id":"x"}' } }],
    });
  });

  it.each([
    [500, OpenAI.InternalServerError],
    [429, OpenAI.RateLimitError],
    [400, OpenAI.BadRequestError],
    [401, OpenAI.AuthenticationError],
  ])('surfaces HTTP %i as an APIError', async (status, errorClass) => {
    fake.enqueue({ kind: 'error', status, headers: { 'retry-after': '3' } });
    const error = await client.chat.completions
      .create({ model: 'm', messages: user('go'), stream: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('3');
  });

  it('passes a custom OpenAI-shaped error body through', async () => {
    fake.enqueue({
      kind: 'error',
      status: 400,
      body: {
        error: {
          message: 'context too long',
          type: 'invalid_request_error',
          code: 'context_length_exceeded',
        },
      },
    });
    const error = (await client.chat.completions
      .create({ model: 'm', messages: user('go') })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.message).toContain('context too long');
  });

  it('drops the connection mid-stream after some chunks', async () => {
    fake.enqueue({
      kind: 'dropAfter',
      text: 'partial answer that never ends',
      afterChunks: 3,
      chunkChars: 4,
    });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: user('go'),
      stream: true,
    });
    let seen = '';
    const consume = async () => {
      for await (const chunk of stream) seen += chunk.choices[0]?.delta.content ?? '';
    };
    await expect(consume()).rejects.toThrow();
    expect(seen).toBe('partial answ');
  });

  it('holds a stream at a gate until the test opens it', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'one two three', chunkChars: 4, afterChunks: 2, gate });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: user('go'),
      stream: true,
    });
    let seen = '';
    const done = (async () => {
      for await (const chunk of stream) seen += chunk.choices[0]?.delta.content ?? '';
    })();
    await gate.reached;
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toBe('one two ');
    gate.open();
    await done;
    expect(seen).toBe('one two three');
  });

  it('lets a client abort a hanging request', async () => {
    fake.enqueue({ kind: 'hang' });
    const error = await client.chat.completions
      .create({ model: 'm', messages: user('go') }, { timeout: 100 })
      .catch((e: unknown) => e);
    // Under jest's VM realm undici's AbortError is not an Error, so the client may report a plain connection error.
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(fake.requests).toHaveLength(1);
  });

  it('serves deterministic, normalised embeddings', async () => {
    const first = await client.embeddings.create({ model: 'e', input: ['alpha', 'beta'] });
    const again = await client.embeddings.create({
      model: 'e',
      input: 'alpha',
      encoding_format: 'float',
    });
    expect(first.data).toHaveLength(2);
    const alpha = first.data[0].embedding;
    expect(alpha).toHaveLength(384);
    expect(Math.hypot(...alpha)).toBeCloseTo(1, 5);
    expect(again.data[0].embedding).toEqual(alpha);
    expect(alpha).toEqual(fakeEmbedding('alpha'));
    expect(first.data[1].embedding).not.toEqual(alpha);
    const small = await client.embeddings.create({ model: 'e', input: 'alpha', dimensions: 16 });
    expect(small.data[0].embedding).toHaveLength(16);
  });

  it('lists models and answers unknown routes with an OpenAI 404', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('fake-model');
    const error = await client.get('/nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('closes while a request hangs', async () => {
    const other = await startFakeOpenAI();
    other.enqueue({ kind: 'hang' });
    const otherClient = new OpenAI({ baseURL: other.baseURL, apiKey: 'test', maxRetries: 0 });
    const pending = otherClient.chat.completions
      .create({ model: 'm', messages: user('go') })
      .catch((e: unknown) => e);
    await waitFor(() => other.requests.length === 1);
    await other.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}
