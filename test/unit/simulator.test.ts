import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import {
  createSimulatorFetch,
  SIMULATOR_MODEL_ID,
  type SimulatorEvent,
} from '../../src/providers/simulator';

const SESSION = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';
const LOOKUP: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look up an entity by id',
    parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  },
};

type SimDelta = ChatCompletionChunk.Choice.Delta & {
  reasoning_content?: string;
  reverie_events?: SimulatorEvent[];
};

interface Assembled {
  content: string;
  reasoning: string;
  events: SimulatorEvent[];
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
  usage: ChatCompletionChunk['usage'];
  contentChunks: number;
}

async function assemble(stream: AsyncIterable<ChatCompletionChunk>): Promise<Assembled> {
  const out: Assembled = {
    content: '',
    reasoning: '',
    events: [],
    toolCalls: [],
    finishReason: null,
    usage: undefined,
    contentChunks: 0,
  };
  for await (const chunk of stream) {
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta as SimDelta;
    if (delta.content) out.contentChunks += 1;
    out.content += delta.content ?? '';
    out.reasoning += delta.reasoning_content ?? '';
    out.events.push(...(delta.reverie_events ?? []));
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

function simulatorClient(options?: Parameters<typeof createSimulatorFetch>[0]): OpenAI {
  return new OpenAI({
    apiKey: 'simulator',
    baseURL: 'http://simulator.local/v1',
    fetch: createSimulatorFetch({ tokenDelayMs: 0, ...options }),
    maxRetries: 0,
  });
}

async function streamTurn(
  client: OpenAI,
  messages: ChatCompletionMessageParam[],
  tools?: ChatCompletionTool[],
): Promise<Assembled> {
  const stream = await client.chat.completions.create({
    model: SIMULATOR_MODEL_ID,
    messages,
    tools,
    stream: true,
    stream_options: { include_usage: true },
  });
  return assemble(stream);
}

const eventTypes = (events: SimulatorEvent[]) => [...new Set(events.map((e) => e.type))].sort();

describe('simulator provider', () => {
  const client = simulatorClient();

  it('streams reasoning, markdown, events and usage for a plain turn', async () => {
    const out = await streamTurn(client, [
      { role: 'user', content: 'Tell me about durable agents' },
    ]);
    expect(out.finishReason).toBe('stop');
    expect(out.reasoning.length).toBeGreaterThan(20);
    expect(out.content).toContain('## Simulated answer');
    expect(out.content).toContain('- **Reasoning**');
    expect(out.content).toContain('```ts');
    expect(out.content).toContain('You said: "Tell me about durable agents"');
    expect(out.contentChunks).toBeGreaterThan(10);
    expect(eventTypes(out.events)).toEqual(['action_request', 'metadata', 'progress', 'title']);
    expect(out.events.find((e) => e.type === 'title')?.data).toEqual({
      title: 'Tell me about durable agents',
    });
    const progress = out.events.filter((e) => e.type === 'progress').map((e) => e.data);
    expect(progress).toContainEqual({
      step: 3,
      total_steps: 3,
      label: 'Writing the answer',
      status: 'completed',
    });
    const card = out.events.find((e) => e.type === 'action_request');
    expect(card?.data).toMatchObject({
      card: { id: expect.any(String), title: expect.any(String), description: expect.any(String) },
    });
    expect(out.usage?.completion_tokens).toBeGreaterThan(0);
    expect(out.usage?.total_tokens).toBe(
      (out.usage?.prompt_tokens ?? 0) + (out.usage?.completion_tokens ?? 0),
    );
    expect(out.toolCalls).toEqual([]);
  });

  it('quotes the latest user message and counts turns, without a title after the first', async () => {
    const out = await streamTurn(client, [
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'second question' },
    ]);
    expect(out.content).toContain('You said: "second question"');
    expect(out.content).toContain('turn 2');
    expect(out.events.some((e) => e.type === 'title')).toBe(false);
  });

  it('calls lookup with the session id, then answers from the tool result', async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: `You are helpful.\nSession: ${SESSION}` },
      { role: 'user', content: 'What do you know?' },
    ];
    const first = await streamTurn(client, messages, [LOOKUP]);
    expect(first.finishReason).toBe('tool_calls');
    expect(first.content).toBe('');
    expect(first.toolCalls).toEqual([
      {
        id: expect.stringMatching(/^call_sim_/),
        name: 'lookup',
        arguments: JSON.stringify({ id: SESSION }),
      },
    ]);
    expect(JSON.parse(first.toolCalls[0].arguments)).toEqual({ id: SESSION });
    expect(first.reasoning).toContain(SESSION);

    const call = first.toolCalls[0];
    const followUp = await streamTurn(
      client,
      [
        ...messages,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            },
          ],
        },
        { role: 'tool', tool_call_id: call.id, content: 'Session notes: the user likes tea.' },
      ],
      [LOOKUP],
    );
    expect(followUp.finishReason).toBe('stop');
    expect(followUp.toolCalls).toEqual([]);
    expect(followUp.content).toContain(`I looked up \`${SESSION}\``);
    expect(followUp.content).toContain('the user likes tea');
    expect(followUp.content).toContain('You said: "What do you know?"');
    const metadata = followUp.events.find((e) => e.type === 'metadata');
    expect(metadata?.data).toMatchObject({ sources: [`lookup:${SESSION}`] });
  });

  it('assembles the tool call with the client stream helper', async () => {
    const runner = client.chat.completions.stream({
      model: SIMULATOR_MODEL_ID,
      messages: [
        { role: 'system', content: `Session: ${SESSION}` },
        { role: 'user', content: 'hi' },
      ],
      tools: [LOOKUP],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'lookup', arguments: JSON.stringify({ id: SESSION }) },
    });
  });

  it('skips the tool call without a lookup tool or a uuid', async () => {
    const noTool = await streamTurn(client, [
      { role: 'system', content: `Session: ${SESSION}` },
      { role: 'user', content: 'hi' },
    ]);
    expect(noTool.toolCalls).toEqual([]);
    expect(noTool.finishReason).toBe('stop');
    const noUuid = await streamTurn(
      client,
      [
        { role: 'system', content: 'No session here' },
        { role: 'user', content: 'hi' },
      ],
      [LOOKUP],
    );
    expect(noUuid.toolCalls).toEqual([]);
  });

  it('answers without streaming', async () => {
    const completion = await client.chat.completions.create({
      model: SIMULATOR_MODEL_ID,
      messages: [{ role: 'user', content: 'plain please' }],
    });
    const message = completion.choices[0]?.message as OpenAI.ChatCompletionMessage & {
      reasoning_content?: string;
      reverie_events?: SimulatorEvent[];
    };
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(message.content).toContain('You said: "plain please"');
    expect(message.reasoning_content).toBeTruthy();
    expect(eventTypes(message.reverie_events ?? [])).toEqual([
      'action_request',
      'metadata',
      'progress',
      'title',
    ]);
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams the same text as the non-streaming answer', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'same?' }];
    const streamed = await streamTurn(client, messages);
    const whole = await client.chat.completions.create({ model: SIMULATOR_MODEL_ID, messages });
    expect(whole.choices[0]?.message.content).toBe(streamed.content);
    expect(whole.usage).toEqual(streamed.usage);
  });

  it('fails with a 500 APIError on [simulate:error]', async () => {
    const error = await client.chat.completions
      .create({
        model: SIMULATOR_MODEL_ID,
        messages: [{ role: 'user', content: 'boom [simulate:error]' }],
        stream: true,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
  });

  it('streams about 200 chunks on [simulate:long]', async () => {
    const out = await streamTurn(client, [{ role: 'user', content: 'go [simulate:long]' }]);
    expect(out.contentChunks).toBeGreaterThanOrEqual(180);
    expect(out.content).toContain('45. Detail line 45');
  });

  it('paces chunks: slower on [simulate:slow]', async () => {
    const paced = simulatorClient({ tokenDelayMs: 1 });
    const started = Date.now();
    const stream = await paced.chat.completions.create({
      model: SIMULATOR_MODEL_ID,
      messages: [{ role: 'user', content: '[simulate:slow]' }],
      stream: true,
    });
    let chunks = 0;
    for await (const _chunk of stream) {
      chunks += 1;
      if (chunks === 3) break;
    }
    // The second and third chunks are steps (title, progress), each paused 3 × 50 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 150 - 10);
  });

  it('is deterministic for the same conversation and seed', async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: `Session: ${SESSION}` },
      { role: 'user', content: 'repeat me' },
    ];
    const a = await streamTurn(client, messages, [LOOKUP]);
    const b = await streamTurn(simulatorClient(), messages, [LOOKUP]);
    expect(b).toEqual(a);
    const plainA = await streamTurn(client, [{ role: 'user', content: 'repeat me' }]);
    const plainB = await streamTurn(client, [{ role: 'user', content: 'repeat me' }]);
    expect(plainB).toEqual(plainA);
    const otherSeed = await streamTurn(simulatorClient({ seed: 7 }), messages, [LOOKUP]);
    expect(otherSeed.toolCalls[0]?.id).not.toBe(a.toolCalls[0]?.id);
  });

  it('lists the simulator model and 404s unknown routes', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([SIMULATOR_MODEL_ID]);
    const error = await client.get('/nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('ends the SDK stream quietly when the client aborts', async () => {
    const paced = simulatorClient({ tokenDelayMs: 20 });
    const stream = await paced.chat.completions.create({
      model: SIMULATOR_MODEL_ID,
      messages: [{ role: 'user', content: 'abort me' }],
      stream: true,
    });
    let chunks = 0;
    for await (const _chunk of stream) {
      chunks += 1;
      if (chunks === 2) stream.controller.abort();
    }
    expect(chunks).toBe(2);
  });

  it('fails the body read with the abort reason when the signal aborts', async () => {
    const controller = new AbortController();
    const response = await createSimulatorFetch({ tokenDelayMs: 20 })(
      'http://simulator.local/v1/chat/completions',
      {
        method: 'POST',
        body: JSON.stringify({
          model: SIMULATOR_MODEL_ID,
          messages: [{ role: 'user', content: 'abort me' }],
          stream: true,
        }),
        signal: controller.signal,
      },
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    await expect(
      createSimulatorFetch()('http://simulator.local/v1/models', { signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
