import { randomUUID } from 'node:crypto';
import { createParser } from 'eventsource-parser';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

/** Runs and their event log (API.md "Runs and events"). */

interface Frame {
  id?: string;
  event?: string;
  data: string;
}

/** Read an SSE response to its end (the server closes it after `done`). */
async function readSse(res: Response): Promise<Frame[]> {
  const frames: Frame[] = [];
  const parser = createParser({
    onEvent: (e) => frames.push({ id: e.id, event: e.event, data: e.data }),
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
    parser.feed(decoder.decode(chunk, { stream: true }));
  return frames;
}

/** Poll a condition that an event elsewhere makes true (never a fixed sleep). */
async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface RunJson {
  id: string;
  object: string;
  kind: string;
  status: string;
  session_id: string;
  user_id: string | null;
  model: string;
  message_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    model_calls: number;
    ttft_ms: number | null;
    latency_ms: number | null;
  };
  error: { code: string; message: string } | null;
  last_seq: number;
  workflow_id: string;
  temporal_url: string;
}

describe('runs API', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let api: request.Agent;
  let auth: Record<string, string>;
  let tenantId: string;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'x',
      LLM_MODEL: 'fake-model',
    });
    api = request.agent(platform.url);
    // A tenant of this file's own: unfiltered run lists hold exactly the runs made here.
    tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
      tenantId,
      'runs-test',
    ]);
    const { key } = await createApiKey(platform.pool, tenantId);
    auth = { Authorization: `Bearer ${key}` };
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const newSession = async () =>
    ((await api.post('/v1/sessions').set(auth).send({})).body as { id: string }).id;
  const post = async (sessionId: string, content: string) => {
    const res = await api.post(`/v1/sessions/${sessionId}/messages`).set(auth).send({ content });
    expect(res.status).toBe(202);
    return res.body.run as RunJson;
  };
  const wait = async (runId: string) => {
    const res = await api.get(`/v1/runs/${runId}/wait?timeout=30`).set(auth);
    expect(res.status).toBe(200);
    return res.body as RunJson & {
      message: { content: string; status: string; incomplete_reason: string | null } | null;
    };
  };
  const events = (runId: string, headers: Record<string, string> = {}, query = '') =>
    fetch(`${platform.url}/v1/runs/${runId}/events${query}`, { headers: { ...auth, ...headers } });

  it('GET /v1/runs/{id} shows the run: kind, status, times, usage, workflow and Temporal link', async () => {
    fake.enqueue({
      kind: 'text',
      text: 'forty-two',
      usage: { prompt_tokens: 11, completion_tokens: 7 },
    });
    const sessionId = await newSession();
    const started = await post(sessionId, 'question');
    await wait(started.id);
    const res = await api.get(`/v1/runs/${started.id}`).set(auth);
    expect(res.status).toBe(200);
    const run = res.body as RunJson;
    expect(run).toMatchObject({
      id: started.id,
      object: 'run',
      kind: 'turn',
      status: 'succeeded',
      session_id: sessionId,
      model: 'fake-model',
      error: null,
      message_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      workflow_id: `turn:${tenantId}:${started.id}`,
    });
    expect(run.usage).toMatchObject({
      prompt_tokens: 11,
      completion_tokens: 7,
      total_tokens: 18,
      model_calls: 1,
    });
    expect(run.usage.ttft_ms).toEqual(expect.any(Number));
    expect(run.usage.latency_ms).toEqual(expect.any(Number));
    const created = Date.parse(run.created_at);
    const startedAt = Date.parse(run.started_at!);
    const finished = Date.parse(run.finished_at!);
    expect(startedAt).toBeGreaterThanOrEqual(created);
    expect(finished).toBeGreaterThanOrEqual(startedAt);
    expect(run.temporal_url).toBe(
      `${platform.config.temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(run.workflow_id)}`,
    );
    expect((await api.get(`/v1/runs/${randomUUID()}`).set(auth)).status).toBe(404);
  });

  it('usage counts every model call of the run: tool loop steps and failed attempts', async () => {
    const sessionId = await newSession();
    fake.enqueue(
      {
        kind: 'toolCalls',
        calls: [{ name: 'lookup', arguments: { id: sessionId } }],
        usage: { prompt_tokens: 10, completion_tokens: 5 },
      },
      { kind: 'text', text: 'found it', usage: { prompt_tokens: 20, completion_tokens: 3 } },
    );
    const loop = await wait((await post(sessionId, 'look it up')).id);
    expect(loop.status).toBe('succeeded');
    expect(loop.usage).toMatchObject({
      prompt_tokens: 30,
      completion_tokens: 8,
      total_tokens: 38,
      model_calls: 2,
    });
    expect(fake.chatRequests()).toHaveLength(2);

    // A 500 is retried by the activity: the failed call is counted too, and the log says so.
    fake.reset();
    fake.enqueue(
      { kind: 'error', status: 500 },
      {
        kind: 'text',
        text: 'second time lucky',
        usage: { prompt_tokens: 4, completion_tokens: 4 },
      },
    );
    const retried = await wait((await post(sessionId, 'again')).id);
    expect(retried.status).toBe('succeeded');
    expect(retried.message?.content).toBe('second time lucky');
    expect(retried.usage.model_calls).toBe(2);
    expect(retried.usage.prompt_tokens).toBeGreaterThan(4);
    const frames = await readSse(await events(retried.id));
    const retry = frames.filter((f) => f.event === 'retry').map((f) => JSON.parse(f.data));
    expect(retry).toEqual([expect.objectContaining({ attempt: 2, discard_from_seq: null })]);
  });

  it('GET /v1/runs filters by session, status and kind (combined), newest first, with pagination', async () => {
    const a = await newSession();
    const b = await newSession();
    const a1 = await post(a, 'a1');
    await wait(a1.id);
    const a2 = await post(a, 'a2');
    await wait(a2.id);
    const b1 = await post(b, 'b1');
    await wait(b1.id);

    const list = async (query: Record<string, string | number>) => {
      const res = await api.get('/v1/runs').query(query).set(auth);
      expect(res.status).toBe(200);
      expect(res.body.object).toBe('list');
      return res.body as { data: RunJson[]; next_cursor: string | null };
    };
    expect((await list({ session_id: a })).data.map((r) => r.id)).toEqual([a2.id, a1.id]);
    expect(
      (await list({ session_id: b, kind: 'turn', status: 'succeeded' })).data.map((r) => r.id),
    ).toEqual([b1.id]);
    expect((await list({ session_id: b, status: 'failed' })).data).toEqual([]);
    expect((await list({ session_id: a, kind: 'ingest' })).data).toEqual([]);

    // Unfiltered: every run of this tenant, newest first, each page disjoint.
    const all = await list({ limit: 100 });
    const createdAt = all.data.map((r) => Date.parse(r.created_at));
    expect(createdAt).toEqual([...createdAt].sort((x, y) => y - x));
    expect(all.data.slice(0, 3).map((r) => r.id)).toEqual([b1.id, a2.id, a1.id]);
    const succeeded = await list({ status: 'succeeded', limit: 100 });
    expect(succeeded.data.every((r) => r.status === 'succeeded')).toBe(true);
    expect(succeeded.data.map((r) => r.id)).toEqual(expect.arrayContaining([a1.id, a2.id, b1.id]));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: RunJson[]; next_cursor: string | null } = await list({
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((r) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.data.map((r) => r.id));

    const first = await list({ session_id: a, limit: 1 });
    expect(first.data.map((r) => r.id)).toEqual([a2.id]);
    const second = await list({ session_id: a, limit: 1, cursor: first.next_cursor! });
    expect(second.data.map((r) => r.id)).toEqual([a1.id]);
    expect(second.next_cursor).toBeNull();
  });

  it('/wait times out with 408 while the run is unfinished; cancel is 202 and the run ends', async () => {
    fake.setDefault({ kind: 'hang' });
    const sessionId = await newSession();
    const running = await post(sessionId, 'this will hang');
    await until('the model call', () => fake.chatRequests().length === 1);

    const timedOut = await api.get(`/v1/runs/${running.id}/wait?timeout=1`).set(auth);
    expect(timedOut.status).toBe(408);
    expect(timedOut.body.error).toMatchObject({
      code: 'timeout',
      request_id: timedOut.headers['x-request-id'],
    });
    expect((await api.get(`/v1/runs/${running.id}`).set(auth)).body.status).toBe('running');

    // A second message queues behind it; cancelling the queued one never calls the model.
    const queued = await post(sessionId, 'queued behind');
    expect((await api.get(`/v1/runs/${queued.id}`).set(auth)).body.status).toBe('queued');
    const cancelQueued = await api.post(`/v1/runs/${queued.id}/cancel`).set(auth);
    expect(cancelQueued.status).toBe(202);
    expect(cancelQueued.body.id).toBe(queued.id);
    expect((await wait(queued.id)).status).toBe('cancelled');

    const cancel = await api.post(`/v1/runs/${running.id}/cancel`).set(auth);
    expect(cancel.status).toBe(202);
    const ended = await wait(running.id);
    // Whether it reads `cancelled` is the next test's (see the bug noted there).
    expect(['cancelled', 'failed']).toContain(ended.status);
    expect(ended.finished_at).toEqual(expect.any(String));
    expect(fake.chatRequests()).toHaveLength(1);
    const frames = await readSse(await events(running.id));
    expect(frames.at(-1)!.event).toBe('done');

    // Cancelling a finished run changes nothing.
    const again = await api.post(`/v1/runs/${running.id}/cancel`).set(auth);
    expect(again.status).toBe(202);
    expect((await api.get(`/v1/runs/${running.id}`).set(auth)).body.status).toBe(ended.status);
    const badTimeout = await api.get(`/v1/runs/${running.id}/wait?timeout=-1`).set(auth);
    expect(badTimeout.status).toBe(400);
  });

  // Known bug (activities/model.activities.ts, generateStep's catch): a cancel that
  // lands while the provider has not answered yet aborts `create()`, the OpenAI SDK
  // throws APIUserAbortError, which is rethrown as is; Temporal reports it as a
  // failure (not a cancellation), so the run ends `failed` ("Request was aborted.").
  // Flip to `it` once fixed.
  it('cancelling a turn whose model has not answered yet ends it cancelled, not failed', async () => {
    fake.setDefault({ kind: 'hang' });
    const running = await post(await newSession(), 'this will hang too');
    await until('the model call', () => fake.chatRequests().length === 1);
    expect((await api.post(`/v1/runs/${running.id}/cancel`).set(auth)).status).toBe(202);
    const ended = await wait(running.id);
    expect({ status: ended.status, error: ended.error }).toEqual({
      status: 'cancelled',
      error: null,
    });
    const frames = await readSse(await events(running.id));
    expect(JSON.parse(frames.at(-1)!.data).reason).toBe('cancelled');
  });

  describe('GET /v1/runs/{id}/events', () => {
    let run: RunJson;

    beforeAll(async () => {
      fake.reset();
      fake.enqueue({ kind: 'text', text: 'one two three four five six', chunkChars: 4 });
      const finished = await wait((await post(await newSession(), 'count')).id);
      run = (await api.get(`/v1/runs/${finished.id}`).set(auth)).body as RunJson;
    });

    it('replays the whole log of a finished run and closes', async () => {
      const res = await events(run.id);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-run-id')).toBe(run.id);
      const frames = await readSse(res);
      const seqs = frames.map((f) => Number(f.id));
      expect(seqs).toEqual(Array.from({ length: run.last_seq }, (_, i) => i + 1));
      expect(frames[0].event).toBe('run.started');
      expect(JSON.parse(frames[0].data)).toMatchObject({
        run_id: run.id,
        session_id: run.session_id,
      });
      expect(frames.at(-1)!.event).toBe('done');
      expect(JSON.parse(frames.at(-1)!.data)).toEqual({
        reason: 'stop',
        message_id: run.message_id,
      });
      const text = frames
        .filter((f) => f.event === 'message.delta')
        .map((f) => JSON.parse(f.data).content as string);
      expect(text.join('')).toBe('one two three four five six');
      const usage = frames.find((f) => f.event === 'usage');
      expect(JSON.parse(usage!.data)).toEqual({
        prompt_tokens: run.usage.prompt_tokens,
        completion_tokens: run.usage.completion_tokens,
        total_tokens: run.usage.total_tokens,
      });
    });

    it.each([
      ['Last-Event-ID', (after: number) => [{ 'Last-Event-ID': String(after) }, ''] as const],
      ['?after=', (after: number) => [{}, `?after=${after}`] as const],
    ])(
      'resumes with %s: a run.state frame (no id), then the events after the cursor',
      async (_, how) => {
        const after = 3;
        const [headers, query] = how(after);
        const frames = await readSse(await events(run.id, headers, query));
        expect(frames[0].event).toBe('run.state');
        expect(frames[0].id).toBeUndefined();
        expect(JSON.parse(frames[0].data)).toEqual({
          status: 'succeeded',
          session_id: run.session_id,
          message_id: run.message_id,
          model: 'fake-model',
          last_seq: run.last_seq,
        });
        const seqs = frames.slice(1).map((f) => Number(f.id));
        expect(seqs).toEqual(Array.from({ length: run.last_seq - after }, (_, i) => after + 1 + i));
        expect(frames.at(-1)!.event).toBe('done');
      },
    );

    it('a resume at the last event sends run.state and closes', async () => {
      const frames = await readSse(await events(run.id, { 'Last-Event-ID': String(run.last_seq) }));
      expect(frames.map((f) => f.event)).toEqual(['run.state']);
    });

    it('rejects a malformed cursor with 400', async () => {
      const res = await events(run.id, { 'Last-Event-ID': 'abc' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_request',
      );
    });

    it('tails a live run to its end, and a resumed stream of it reports it running', async () => {
      const gate = createGate();
      fake.enqueue({
        kind: 'gate',
        gate,
        text: 'before the gate and after it',
        chunkChars: 6,
        afterChunks: 2,
      });
      const live = await post(await newSession(), 'wait for it');
      await gate.reached;
      const [tail, resumed] = await Promise.all([
        events(live.id),
        events(live.id, { 'Last-Event-ID': '1' }),
      ]);
      gate.open();
      const [frames, resumedFrames] = await Promise.all([readSse(tail), readSse(resumed)]);
      const seqs = frames.map((f) => Number(f.id));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(frames.at(-1)!.event).toBe('done');
      const text = frames
        .filter((f) => f.event === 'message.delta')
        .map((f) => JSON.parse(f.data).content as string);
      expect(text.join('')).toBe('before the gate and after it');

      const state = JSON.parse(resumedFrames[0].data);
      expect(resumedFrames[0].event).toBe('run.state');
      expect(state.status).toBe('running');
      expect(resumedFrames.slice(1).map((f) => Number(f.id))).toEqual(seqs.slice(1));
    });
  });
});
