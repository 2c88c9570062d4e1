import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import type { Pool } from '../../src/db/pool';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';
import { readChunkStream } from '../helpers/sse-client';

/** The official `openai` client against our API, with the fake provider behind it. */
describe('OpenAI SDK compatibility', () => {
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

  it('answers a non-streaming completion with usage', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'Paris is the capital of France.',
      usage: { prompt_tokens: 11, completion_tokens: 7 },
    });
    const res = await client.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'Capital of France?' }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message.content).toBe('Paris is the capital of France.');
    expect(res.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    const sent = fake.chatRequests()[0].body as {
      model: string;
      messages: { role: string; content: string }[];
    };
    expect(sent.model).toBe('fake-model');
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'Capital of France?' });
  });

  it('streams chunks, then a usage chunk when include_usage is set', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'one two three four five',
      chunkChars: 3,
      usage: { prompt_tokens: 5, completion_tokens: 6 },
    });
    const stream = await client.chat.completions.create({
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count' }],
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    const roles: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta.role) roles.push(choice.delta.role);
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    expect(text).toBe('one two three four five');
    expect(roles).toEqual(['assistant']);
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
  });

  it('gives every raw SSE frame an id, the usage chunk and [DONE] the last seq of the run', async () => {
    fake.enqueue({ kind: 'text', text: 'alpha beta gamma', chunkChars: 4 });
    const response = await fetch(`${platform.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'fake-model',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'raw frames' }],
      }),
    });
    expect(response.status).toBe(200);
    const runId = response.headers.get('x-run-id');
    const { frames, sawDone } = await readChunkStream(response);
    expect(sawDone).toBe(true);
    const { rows } = await platform.pool.query<{ last: string }>(
      'select max(seq)::text as last from run_events where run_id = $1',
      [runId],
    );
    const last = rows[0].last;
    expect(frames.map((f) => f.id).every((id) => id !== undefined && /^\d+$/.test(id))).toBe(true);
    const usageFrame = frames.find((f) => f.data !== '[DONE]' && 'usage' in JSON.parse(f.data));
    expect(usageFrame?.id).toBe(last);
    expect(frames.at(-1)).toMatchObject({ data: '[DONE]', id: last });
  });

  it('continues a session with X-Session-Id: turn 2 sees turn 1', async () => {
    // Default behaviour echoes the last user message.
    const first = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'my name is Ada' }] })
      .withResponse();
    const sessionId = first.response.headers.get('x-session-id');
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.data.choices[0].message.content).toBe('echo: my name is Ada');

    const second = await client.chat.completions.create(
      { model: 'fake-model', messages: [{ role: 'user', content: 'what is my name?' }] },
      { headers: { 'X-Session-Id': sessionId! } },
    );
    expect(second.choices[0].message.content).toBe('echo: what is my name?');
    const seen = (fake.chatRequests()[1].body as { messages: { role: string; content: string }[] })
      .messages;
    expect(seen.filter((m) => m.role !== 'system')).toEqual([
      { role: 'user', content: 'my name is Ada' },
      { role: 'assistant', content: 'echo: my name is Ada' },
      { role: 'user', content: 'what is my name?' },
    ]);
    const stored = await platform.pool.query(
      'select role, content from messages where session_id = $1 order by seq',
      [sessionId],
    );
    expect(stored.rows.map((r: { role: string }) => r.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });

  it('lists exactly what is served: the simulator and the configured provider model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['fake-model', 'simulator']);
  });

  it("maps the provider's 404 for a model to 404 model_not_found (NotFoundError in the SDK)", async () => {
    fake.enqueue({
      kind: 'error',
      status: 404,
      body: {
        error: {
          message: 'The model `gpt-nope` does not exist',
          type: 'invalid_request_error',
          code: 'model_not_found',
          param: null,
        },
      },
    });
    const failure = await client.chat.completions
      .create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(OpenAI.NotFoundError);
    const error = failure as InstanceType<typeof OpenAI.NotFoundError>;
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(error.message).toMatch(/gpt-nope/);
    expect(error.error).toMatchObject({
      code: 'model_not_found',
      type: expect.any(String),
      request_id: expect.any(String),
    });
  });

  it('a streaming request the provider 404s ends with an error event model_not_found', async () => {
    fake.enqueue({ kind: 'error', status: 404 }, { kind: 'error', status: 404 });
    const post = (extended: boolean) =>
      fetch(`${platform.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${platform.apiKey}`,
          'content-type': 'application/json',
          ...(extended ? { 'x-stream-events': 'extended' } : {}),
        },
        body: JSON.stringify({
          model: 'gpt-nope',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
    const plain = await readChunkStream(await post(false));
    const errorFrame = plain.frames.find((f) => f.data.includes('"error"'));
    expect(JSON.parse(errorFrame!.data).error.code).toBe('model_not_found');
    const extended = await readChunkStream(await post(true));
    const named = extended.frames.find((f) => f.event === 'error');
    expect(JSON.parse(named!.data).data.code).toBe('model_not_found');
  });

  it('serves the simulator through the same path, tool loop included', async () => {
    const res = await client.chat.completions.create({
      model: 'simulator',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(res.choices[0].message.content).toContain('You said: "hello there"');
    expect(fake.chatRequests()).toHaveLength(0);
  });
});

/** Rows a tenant has: a rejected request must leave these unchanged. */
async function tenantRows(pool: Pool, tenantId: string) {
  const { rows } = await pool.query<{ sessions: number; runs: number; messages: number }>(
    `select (select count(*)::int from sessions where tenant_id = $1) as sessions,
            (select count(*)::int from runs where tenant_id = $1) as runs,
            (select count(*)::int from messages where tenant_id = $1) as messages`,
    [tenantId],
  );
  return rows[0];
}

describe('with no provider configured', () => {
  let platform: Platform;
  let client: OpenAI;
  let tenantId: string;
  let key: string;

  beforeAll(async () => {
    platform = await startPlatform({ LLM_BASE_URL: '', OPENAI_API_KEY: '' });
    // A tenant of its own, so row counts see only this test's requests.
    tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
      tenantId,
      `no-provider-${tenantId}`,
    ]);
    key = (await createApiKey(platform.pool, tenantId, { name: 'no provider' })).key;
    client = new OpenAI({ baseURL: `${platform.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('lists only the simulator', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['simulator']);
  });

  it.each([false, true])(
    'an unknown model is NotFoundError 404 model_not_found before anything is stored (stream %s)',
    async (stream) => {
      const before = await tenantRows(platform.pool, tenantId);
      const failure = await client.chat.completions
        .create({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failure).toBeInstanceOf(OpenAI.NotFoundError);
      const error = failure as InstanceType<typeof OpenAI.NotFoundError>;
      expect(error.status).toBe(404);
      expect(error.code).toBe('model_not_found');
      // The message names what is served and how to get more.
      expect(error.message).toMatch(/gpt-4o/);
      expect(error.message).toMatch(/simulator/);
      expect(error.message).toMatch(/LLM_BASE_URL/);
      expect(error.error).toMatchObject({
        code: 'model_not_found',
        request_id: expect.any(String),
      });
      expect(await tenantRows(platform.pool, tenantId)).toEqual(before);
    },
  );

  it('POST /v1/sessions/{id}/messages with an unknown model is 404 model_not_found, no run or message', async () => {
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const created = await fetch(`${platform.url}/v1/sessions`, {
      method: 'POST',
      headers: auth,
      body: '{}',
    });
    const session = (await created.json()) as { id: string };
    const before = await tenantRows(platform.pool, tenantId);
    const res = await fetch(`${platform.url}/v1/sessions/${session.id}/messages`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ content: 'hi', model: 'claude-x' }),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.message).toMatch(/claude-x/);
    expect(await tenantRows(platform.pool, tenantId)).toEqual(before);
  });

  it('still answers simulator and default', async () => {
    for (const model of ['simulator', 'default']) {
      const res = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hello there' }],
      });
      expect(res.choices[0].message.content).toContain('hello there');
    }
  });
});

describe('a chat completion as a Temporal workflow', () => {
  it('is visible to operators: described, with its activities in history', async () => {
    const platform = await startPlatform();
    const temporal = new Client({
      connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
    });
    try {
      const client = new OpenAI({
        baseURL: `${platform.url}/v1`,
        apiKey: platform.apiKey,
        maxRetries: 0,
      });
      const res = await client.chat.completions
        .create({ model: 'simulator', messages: [{ role: 'user', content: 'visible?' }] })
        .withResponse();
      const runId = res.response.headers.get('x-run-id')!;
      const sessionId = res.response.headers.get('x-session-id')!;
      const rows = await platform.pool.query<{ role: string; status: string }>(
        'select role, status from messages where session_id = $1 order by seq',
        [sessionId],
      );
      // user, assistant (tool call), tool result, assistant answer
      expect(rows.rows.map((r) => r.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);

      const handle = temporal.workflow.getHandle(turnWorkflowId(DEFAULT_TENANT_ID, runId));
      // The run is answered by its last step; the workflow may still be closing.
      await handle.result();
      const description = await handle.describe();
      expect(description.type).toBe('turnWorkflow');
      expect(description.status.name).toBe('COMPLETED');
      expect(description.typedSearchAttributes.getAll().map((p) => p.key.name)).toEqual(
        expect.arrayContaining(['TenantId', 'SessionId', 'RunKind']),
      );
      const history = await handle.fetchHistory();
      const activityTypes = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter(Boolean);
      // The model steps run as local activities inside the workflow task (turn
      // protocol 2): each is a marker that names it; the tool is an activity.
      expect(activityTypes).toEqual(['executeTool']);
      const localActivities = (history.events ?? [])
        .map((e) => e.markerRecordedEventAttributes)
        .filter((m) => m?.markerName === 'core_local_activity')
        .map((m) => {
          const data = m!.details!.data.payloads![0].data!;
          return (JSON.parse(Buffer.from(data).toString()) as { activity_type: string })
            .activity_type;
        });
      expect(localActivities).toEqual(['generateStep', 'generateStep']);
      // A current-protocol turn records no other markers (no patches).
      const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes).length;
      expect(markers).toBe(2);
    } finally {
      await temporal.connection.close();
      await platform.close();
    }
  });
});
