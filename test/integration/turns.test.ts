import request from 'supertest';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

/** Providers failing, multitask strategies, cancellation and idempotency, end to end. */
describe('durable turns', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
      LLM_FALLBACKS: 'fallback-model',
    });
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  async function newSession(): Promise<string> {
    const res = await request(platform.url).post('/v1/sessions').set(auth()).send({}).expect(201);
    return res.body.id as string;
  }

  function post(sessionId: string, content: string, extra: Record<string, unknown> = {}) {
    return request(platform.url)
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth())
      .send({ content, model: 'fake-model', ...extra });
  }

  async function waitRun(runId: string) {
    const res = await request(platform.url)
      .get(`/v1/runs/${runId}/wait?timeout=60`)
      .set(auth())
      .expect(200);
    return res.body as {
      status: string;
      error: { code: string; message: string } | null;
      usage: Record<string, number>;
      message: { content: string; status: string; incomplete_reason: string | null } | null;
    };
  }

  async function events(runId: string) {
    const res = await platform.pool.query<{
      seq: number;
      type: string;
      data: Record<string, unknown>;
    }>('select seq, type, data from run_events where run_id = $1 order by seq', [runId]);
    return res.rows;
  }

  async function history(sessionId: string) {
    const res = await platform.pool.query<{
      role: string;
      content: string;
      status: string;
      incomplete_reason: string | null;
      run_id: string;
    }>(
      `select role, content, status, incomplete_reason, run_id from messages where session_id = $1 order by seq`,
      [sessionId],
    );
    return res.rows;
  }

  describe('providers', () => {
    it('retries after 500s from every provider and answers once', async () => {
      // Primary and fallback both fail: the activity's retry tries the chain again.
      fake.enqueue(
        { kind: 'error', status: 500 },
        { kind: 'error', status: 503 },
        { kind: 'text', text: 'second time lucky' },
      );
      const sessionId = await newSession();
      const res = await post(sessionId, 'hi').expect(202);
      const run = await waitRun(res.body.run.id);
      expect(run.status).toBe('succeeded');
      expect(run.message?.content).toBe('second time lucky');
      const log = await events(res.body.run.id);
      expect(log.filter((e) => e.type === 'retry')).toHaveLength(1);
      expect(log.filter((e) => e.type === 'done')).toHaveLength(1);
      // Both model calls count, the failed one included.
      expect(run.usage.model_calls).toBe(2);
      expect((await history(sessionId)).filter((m) => m.role === 'assistant')).toHaveLength(1);
    });

    it('fails over to the fallback model on 429', async () => {
      fake.enqueue(
        { kind: 'error', status: 429, headers: { 'retry-after': '1' } },
        { kind: 'text', text: 'from the fallback' },
      );
      const sessionId = await newSession();
      const res = await post(sessionId, 'hi').expect(202);
      const run = await waitRun(res.body.run.id);
      expect(run.message?.content).toBe('from the fallback');
      expect(fake.chatRequests().map((r) => (r.body as { model: string }).model)).toEqual([
        'fake-model',
        'fallback-model',
      ]);
      const meta = (await events(res.body.run.id)).find((e) => e.type === 'metadata');
      expect(meta?.data).toMatchObject({ provider: 'fallback-1', model: 'fallback-model' });
    });

    it('does not retry a 400: the run fails with a clear error', async () => {
      fake.enqueue({
        kind: 'error',
        status: 400,
        body: {
          error: { message: 'messages too long', type: 'invalid_request_error', code: null },
        },
      });
      const sessionId = await newSession();
      const res = await post(sessionId, 'hi').expect(202);
      const run = await waitRun(res.body.run.id);
      expect(run.status).toBe('failed');
      expect(run.error?.code).toBe('provider_error');
      expect(run.error?.message).toContain('messages too long');
      expect(fake.chatRequests()).toHaveLength(1);
      const log = await events(res.body.run.id);
      // The session's first turn names it as it begins, before the provider is called.
      expect(log.map((e) => e.type)).toEqual(['run.started', 'title', 'error', 'usage', 'done']);
      expect(log[2].data).toMatchObject({ code: 'provider_error' });
    });

    it('answers 502 provider_error to a non-streaming chat completion that failed', async () => {
      fake.enqueue({
        kind: 'error',
        status: 401,
        body: { error: { message: 'bad key', type: 'auth', code: null } },
      });
      const res = await request(platform.url)
        .post('/v1/chat/completions')
        .set(auth())
        .send({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })
        .expect(502);
      expect(res.body.error).toMatchObject({ code: 'provider_error' });
      expect(res.body.error.message).toContain('bad key');
    });
  });

  describe('multitask strategies', () => {
    it('reject: a second turn while one runs is 409 run_in_progress and leaves no trace', async () => {
      const gate = createGate();
      fake.enqueue({ kind: 'gate', text: 'slow answer', gate });
      const sessionId = await newSession();
      const first = await post(sessionId, 'first').expect(202);
      await gate.reached;
      const second = await post(sessionId, 'second', { multitask_strategy: 'reject' }).expect(409);
      expect(second.body.error.code).toBe('run_in_progress');
      gate.open();
      expect((await waitRun(first.body.run.id)).status).toBe('succeeded');
      const runs = await platform.pool.query('select id from runs where session_id = $1', [
        sessionId,
      ]);
      expect(runs.rows).toHaveLength(1);
      expect((await history(sessionId)).map((m) => m.content)).toEqual(['first', 'slow answer']);
    });

    it('enqueue: the second turn waits, history reads u1, a1, u2, a2', async () => {
      const gate = createGate();
      fake.enqueue(
        { kind: 'gate', text: 'answer one', gate },
        { kind: 'text', text: 'answer two' },
      );
      const sessionId = await newSession();
      const first = await post(sessionId, 'question one').expect(202);
      await gate.reached;
      const second = await post(sessionId, 'question two').expect(202);
      const queued = await request(platform.url)
        .get(`/v1/runs/${second.body.run.id}`)
        .set(auth())
        .expect(200);
      expect(queued.body.status).toBe('queued');
      gate.open();
      expect((await waitRun(first.body.run.id)).status).toBe('succeeded');
      expect((await waitRun(second.body.run.id)).status).toBe('succeeded');
      expect((await history(sessionId)).map((m) => m.content)).toEqual([
        'question one',
        'answer one',
        'question two',
        'answer two',
      ]);
      // The second call saw the first turn.
      const seen = (
        fake.chatRequests()[1].body as { messages: { content: string }[] }
      ).messages.map((m) => m.content);
      expect(seen.slice(1)).toEqual(['question one', 'answer one', 'question two']);
    });

    it('interrupt: the running turn ends interrupted with its partial text kept', async () => {
      const gate = createGate();
      fake.enqueue(
        { kind: 'gate', text: 'partial then more', chunkChars: 8, afterChunks: 1, gate },
        { kind: 'text', text: 'fresh answer' },
      );
      const sessionId = await newSession();
      const first = await post(sessionId, 'long question').expect(202);
      await gate.reached;
      await waitForEvent(first.body.run.id, 'message.delta');
      const second = await post(sessionId, 'never mind', {
        multitask_strategy: 'interrupt',
      }).expect(202);
      const interrupted = await waitRun(first.body.run.id);
      expect(interrupted.status).toBe('interrupted');
      expect(interrupted.message).toMatchObject({
        content: 'partial ',
        status: 'incomplete',
        incomplete_reason: 'interrupted',
      });
      expect((await waitRun(second.body.run.id)).message?.content).toBe('fresh answer');
      expect((await history(sessionId)).map((m) => [m.content, m.status])).toEqual([
        ['long question', 'completed'],
        ['partial ', 'incomplete'],
        ['never mind', 'completed'],
        ['fresh answer', 'completed'],
      ]);
      gate.open();
    });
  });

  async function waitForEvent(runId: string, type: string) {
    for (let i = 0; i < 200; i++) {
      if ((await events(runId)).some((e) => e.type === type)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${type} event for run ${runId}`);
  }

  it('cancel mid-stream keeps the partial text, marked cancelled', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'abcdefgh rest', chunkChars: 9, afterChunks: 1, gate });
    const sessionId = await newSession();
    const res = await post(sessionId, 'go').expect(202);
    await gate.reached;
    await waitForEvent(res.body.run.id, 'message.delta');
    await request(platform.url).post(`/v1/runs/${res.body.run.id}/cancel`).set(auth()).expect(202);
    const run = await waitRun(res.body.run.id);
    expect(run.status).toBe('cancelled');
    expect(run.message).toMatchObject({
      content: 'abcdefgh ',
      status: 'incomplete',
      incomplete_reason: 'cancelled',
    });
    const log = await events(res.body.run.id);
    expect(log.at(-1)).toMatchObject({ type: 'done', data: { reason: 'cancelled' } });
    gate.open();
  });

  it('cancels a queued turn before it starts', async () => {
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'one', gate });
    const sessionId = await newSession();
    const first = await post(sessionId, 'first').expect(202);
    await gate.reached;
    const second = await post(sessionId, 'second').expect(202);
    await request(platform.url)
      .post(`/v1/runs/${second.body.run.id}/cancel`)
      .set(auth())
      .expect(202);
    expect((await waitRun(second.body.run.id)).status).toBe('cancelled');
    gate.open();
    expect((await waitRun(first.body.run.id)).status).toBe('succeeded');
    expect((await history(sessionId)).map((m) => m.content)).toEqual(['first', 'one']);
  });

  describe('Idempotency-Key', () => {
    it('the same key and body return the same run; another body is 409', async () => {
      const sessionId = await newSession();
      const body = { model: 'fake-model', messages: [{ role: 'user', content: 'once only' }] };
      const a = await request(platform.url)
        .post('/v1/chat/completions')
        .set({ ...auth(), 'Idempotency-Key': `k-${sessionId}`, 'X-Session-Id': sessionId })
        .send(body)
        .expect(200);
      const b = await request(platform.url)
        .post('/v1/chat/completions')
        .set({ ...auth(), 'Idempotency-Key': `k-${sessionId}`, 'X-Session-Id': sessionId })
        .send(body)
        .expect(200);
      expect(b.headers['x-run-id']).toBe(a.headers['x-run-id']);
      expect(b.body.choices[0].message.content).toBe(a.body.choices[0].message.content);
      const conflict = await request(platform.url)
        .post('/v1/chat/completions')
        .set({ ...auth(), 'Idempotency-Key': `k-${sessionId}`, 'X-Session-Id': sessionId })
        .send({ ...body, messages: [{ role: 'user', content: 'something else' }] })
        .expect(409);
      expect(conflict.body.error.code).toBe('idempotency_conflict');
      expect(fake.chatRequests()).toHaveLength(1);
      expect((await history(sessionId)).map((m) => m.content)).toEqual([
        'once only',
        'echo: once only',
      ]);
    });

    it('concurrent retries of one POST start one turn', async () => {
      const sessionId = await newSession();
      const send = () => post(sessionId, 'racing', {}).set('Idempotency-Key', `race-${sessionId}`);
      const results = await Promise.all([send(), send(), send()]);
      const ids = new Set(results.map((r) => r.body.run?.id));
      expect(results.map((r) => r.status)).toEqual([202, 202, 202]);
      expect(ids.size).toBe(1);
      await waitRun([...ids][0]);
      expect((await history(sessionId)).map((m) => m.content)).toEqual(['racing', 'echo: racing']);
    });
  });
});

describe('feedback', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform();
  });
  afterAll(() => platform?.close());

  it('records a rating of a message and links its run', async () => {
    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    const chat = await request(platform.url)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ model: 'simulator', messages: [{ role: 'user', content: 'rate me' }] })
      .expect(200);
    const runId = chat.headers['x-run-id'];
    const run = await request(platform.url).get(`/v1/runs/${runId}`).set(auth).expect(200);
    const res = await request(platform.url)
      .post('/v1/feedback')
      .set(auth)
      .send({ message_id: run.body.message_id, rating: 1, comment: 'good' })
      .expect(201);
    expect(res.body).toMatchObject({ run_id: runId, rating: 1, comment: 'good' });
    const bad = await request(platform.url)
      .post('/v1/feedback')
      .set(auth)
      .send({ run_id: runId, rating: 5 })
      .expect(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const rows = await platform.pool.query('select rating from feedback where run_id = $1', [
      runId,
    ]);
    expect(rows.rows).toEqual([{ rating: 1 }]);
  });
});

describe('suggestions', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform();
  });
  afterAll(() => platform?.close());

  it('suggests three follow-up questions about the conversation', async () => {
    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    const chat = await request(platform.url)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ model: 'simulator', messages: [{ role: 'user', content: 'Temporal workflows' }] })
      .expect(200);
    const sessionId = chat.headers['x-session-id'];
    const res = await request(platform.url)
      .get(`/v1/sessions/${sessionId}/suggestions`)
      .set(auth)
      .expect(200);
    expect(res.body.data).toHaveLength(3);
    expect(res.body.data[0]).toContain('Temporal workflows');
    const empty = await request(platform.url).post('/v1/sessions').set(auth).send({}).expect(201);
    const none = await request(platform.url)
      .get(`/v1/sessions/${empty.body.id}/suggestions`)
      .set(auth)
      .expect(200);
    expect(none.body.data).toEqual([]);
  });
});
