import { randomUUID } from 'node:crypto';
import { createParser } from 'eventsource-parser';
import request from 'supertest';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

/** Sessions and their messages (API.md "Sessions and messages"). */

interface Frame {
  id?: string;
  event?: string;
  data: string;
}

/** Read an SSE response to its end. */
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

interface SessionJson {
  id: string;
  object: string;
  user_id: string | null;
  title: string | null;
  agent: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('sessions API', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let api: request.Agent;
  let auth: Record<string, string>;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'x',
      LLM_MODEL: 'fake-model',
    });
    api = request.agent(platform.url);
    auth = { Authorization: `Bearer ${platform.apiKey}` };
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const createSession = async (
    body: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) => {
    const res = await api.post('/v1/sessions').set(auth).set(headers).send(body);
    expect(res.status).toBe(201);
    return res.body as SessionJson;
  };

  /** Post a message and wait for its run to finish. */
  const turn = async (sessionId: string, content: string) => {
    const res = await api.post(`/v1/sessions/${sessionId}/messages`).set(auth).send({ content });
    expect(res.status).toBe(202);
    const wait = await api.get(`/v1/runs/${res.body.run.id}/wait?timeout=30`).set(auth);
    expect(wait.status).toBe(200);
    return wait.body as {
      id: string;
      status: string;
      message: { id: string; content: string } | null;
    };
  };

  it('POST /v1/sessions creates a session (201)', async () => {
    const s = await createSession({
      title: 'Trip',
      agent: 'default',
      user_id: 'ada@example.com',
      metadata: { k: 1 },
    });
    expect(s).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      object: 'session',
      user_id: 'ada@example.com',
      title: 'Trip',
      agent: 'default',
      metadata: { k: 1 },
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    const { rows } = await platform.pool.query(
      'select tenant_id, title from sessions where id = $1',
      [s.id],
    );
    expect(rows).toEqual([{ tenant_id: '00000000-0000-4000-8000-000000000001', title: 'Trip' }]);
  });

  it('takes the user from X-User-Id first, then body user_id; an empty body is fine', async () => {
    expect((await createSession({}, { 'X-User-Id': 'header-user' })).user_id).toBe('header-user');
    expect(
      (await createSession({ user_id: 'body-user' }, { 'X-User-Id': 'header-user' })).user_id,
    ).toBe('header-user');
    expect((await createSession({ user_id: 'body-user' })).user_id).toBe('body-user');
    const bare = await createSession();
    expect(bare).toMatchObject({ user_id: null, title: null, agent: 'default', metadata: {} });
  });

  it('lists sessions newest first with limit and next_cursor, filtered by user', async () => {
    const user = `list-${randomUUID()}`;
    const created: string[] = [];
    for (let i = 0; i < 5; i++)
      created.push((await createSession({ title: `s${i}`, user_id: user })).id);
    await createSession({ title: 'someone else', user_id: `other-${randomUUID()}` });

    const seen: string[] = [];
    let cursor: string | null = null;
    const pageSizes: number[] = [];
    do {
      const res: request.Response = await api
        .get('/v1/sessions')
        .query({ user_id: user, limit: 2, ...(cursor ? { cursor } : {}) })
        .set(auth);
      expect(res.status).toBe(200);
      expect(res.body.object).toBe('list');
      pageSizes.push(res.body.data.length);
      for (const s of res.body.data as SessionJson[]) {
        expect(s.user_id).toBe(user);
        seen.push(s.id);
      }
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...created].reverse());

    // X-User-Id filters the same way.
    const byHeader = await api.get('/v1/sessions?limit=100').set(auth).set('X-User-Id', user);
    expect(byHeader.body.data.map((s: SessionJson) => s.id)).toEqual([...created].reverse());
    expect(byHeader.body.next_cursor).toBeNull();

    // A limit that fits exactly has no next page.
    const exact = await api.get('/v1/sessions').query({ user_id: user, limit: 5 }).set(auth);
    expect(exact.body.data).toHaveLength(5);
    expect(exact.body.next_cursor).toBeNull();
  });

  it('GET, PATCH and DELETE one session', async () => {
    const s = await createSession({ title: 'before', metadata: { a: 1 } });
    const got = await api.get(`/v1/sessions/${s.id}`).set(auth);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(s);

    const patched = await api
      .patch(`/v1/sessions/${s.id}`)
      .set(auth)
      .send({ title: 'after', metadata: { b: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id: s.id,
      title: 'after',
      metadata: { b: 2 },
      agent: 'default',
    });
    expect(Date.parse(patched.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(s.updated_at));

    // Omitted fields stay; null clears the title.
    const cleared = await api.patch(`/v1/sessions/${s.id}`).set(auth).send({ title: null });
    expect(cleared.body).toMatchObject({ title: null, metadata: { b: 2 } });
    expect((await api.get(`/v1/sessions/${s.id}`).set(auth)).body.title).toBeNull();

    const bad = await api.patch(`/v1/sessions/${s.id}`).set(auth).send({ title: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');

    const del = await api.delete(`/v1/sessions/${s.id}`).set(auth);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ id: s.id, object: 'session', deleted: true });
    expect((await api.get(`/v1/sessions/${s.id}`).set(auth)).status).toBe(404);
    expect((await api.delete(`/v1/sessions/${s.id}`).set(auth)).status).toBe(404);
    expect((await api.patch(`/v1/sessions/${s.id}`).set(auth).send({ title: 'x' })).status).toBe(
      404,
    );
  });

  it('an unknown session id is 404 not_found', async () => {
    const id = randomUUID();
    for (const res of [
      await api.get(`/v1/sessions/${id}`).set(auth),
      await api.get(`/v1/sessions/${id}/messages`).set(auth),
      await api.post(`/v1/sessions/${id}/messages`).set(auth).send({ content: 'hi' }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'not_found', type: 'not_found_error' });
    }
    const { rows } = await platform.pool.query(
      'select count(*)::int as n from sessions where id = $1',
      [id],
    );
    expect(rows[0].n).toBe(0);
  });

  it('POST messages answers 202 {run} with X-Run-Id, X-Session-Id and Location; the run then succeeds', async () => {
    const s = await createSession();
    const res = await api
      .post(`/v1/sessions/${s.id}/messages`)
      .set(auth)
      .send({ content: 'hello there' });
    expect(res.status).toBe(202);
    const run = res.body.run;
    expect(run).toMatchObject({
      object: 'run',
      kind: 'turn',
      session_id: s.id,
      model: 'fake-model',
    });
    expect(['queued', 'running']).toContain(run.status);
    expect(res.headers['x-run-id']).toBe(run.id);
    expect(res.headers['x-session-id']).toBe(s.id);
    expect(res.headers.location).toBe(`/v1/runs/${run.id}`);

    const wait = await api.get(`/v1/runs/${run.id}/wait?timeout=30`).set(auth);
    expect(wait.status).toBe(200);
    expect(wait.body).toMatchObject({
      id: run.id,
      status: 'succeeded',
      message: { role: 'assistant', content: 'echo: hello there' },
    });
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it('GET messages lists the history in order with timestamps, run ids, status and usage', async () => {
    const s = await createSession();
    const first = await turn(s.id, 'one');
    const second = await turn(s.id, 'two');

    const res = await api.get(`/v1/sessions/${s.id}/messages`).set(auth);
    expect(res.status).toBe(200);
    const data = res.body.data as {
      id: string;
      role: string;
      content: string;
      created_at: string;
      run_id: string;
      status: string;
      usage: Record<string, number> | null;
    }[];
    expect(data.map((m) => [m.role, m.content, m.run_id, m.status])).toEqual([
      ['user', 'one', first.id, 'completed'],
      ['assistant', 'echo: one', first.id, 'completed'],
      ['user', 'two', second.id, 'completed'],
      ['assistant', 'echo: two', second.id, 'completed'],
    ]);
    for (const m of data) expect(m.created_at).toMatch(ISO);
    const times = data.map((m) => Date.parse(m.created_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(data[1].usage).toEqual(
      expect.objectContaining({
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
      }),
    );
    expect(data[1].id).toBe(first.message!.id);
    expect(res.body.has_more).toBe(false);

    // Pages go backwards from the newest: limit=2, then before the first of that page.
    const newest = await api.get(`/v1/sessions/${s.id}/messages?limit=2`).set(auth);
    expect(newest.body.data.map((m: { content: string }) => m.content)).toEqual([
      'two',
      'echo: two',
    ]);
    expect(newest.body.has_more).toBe(true);
    const older = await api
      .get(`/v1/sessions/${s.id}/messages?limit=2&before=${newest.body.next_before}`)
      .set(auth);
    expect(older.body.data.map((m: { content: string }) => m.content)).toEqual([
      'one',
      'echo: one',
    ]);
    expect(older.body.has_more).toBe(false);
    expect(older.body.next_before).toBeNull();

    const badBefore = await api
      .get(`/v1/sessions/${s.id}/messages?before=${randomUUID()}`)
      .set(auth);
    expect(badBefore.status).toBe(400);
  });

  it('enqueues a second message while the first runs: history reads u1, a1, u2, a2', async () => {
    const s = await createSession();
    const a = await api.post(`/v1/sessions/${s.id}/messages`).set(auth).send({ content: 'first' });
    const b = await api.post(`/v1/sessions/${s.id}/messages`).set(auth).send({ content: 'second' });
    expect([a.status, b.status]).toEqual([202, 202]);
    for (const id of [a.body.run.id, b.body.run.id]) {
      expect((await api.get(`/v1/runs/${id}/wait?timeout=30`).set(auth)).body.status).toBe(
        'succeeded',
      );
    }
    const res = await api.get(`/v1/sessions/${s.id}/messages`).set(auth);
    expect(res.body.data.map((m: { content: string }) => m.content)).toEqual([
      'first',
      'echo: first',
      'second',
      'echo: second',
    ]);
  });

  it('POST messages with stream: true answers with the native SSE stream, ending with done', async () => {
    fake.enqueue({ kind: 'text', text: 'streamed answer here', chunkChars: 5 });
    const s = await createSession();
    const res = await fetch(`${platform.url}/v1/sessions/${s.id}/messages`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'stream please', stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const runId = res.headers.get('x-run-id');
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-session-id')).toBe(s.id);
    const frames = await readSse(res);

    expect(frames[0].event).toBe('run.started');
    expect(frames.at(-1)!.event).toBe('done');
    for (const f of frames) {
      expect(f.id).toMatch(/^\d+$/);
      expect(f.event).toEqual(expect.any(String));
      expect(() => JSON.parse(f.data)).not.toThrow();
    }
    const seqs = frames.map((f) => Number(f.id));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const text = frames
      .filter((f) => f.event === 'message.delta')
      .map((f) => JSON.parse(f.data).content)
      .join('');
    expect(text).toBe('streamed answer here');
    const done = JSON.parse(frames.at(-1)!.data);
    expect(done.reason).toBe('stop');

    const run = await api.get(`/v1/runs/${runId}`).set(auth);
    expect(run.body).toMatchObject({
      status: 'succeeded',
      message_id: done.message_id,
      last_seq: seqs.at(-1),
    });
  });

  it.each(['simulator', 'fake-model'])(
    'a long first message: the title event (model %s) and the stored title are the same string',
    async (model) => {
      if (model === 'fake-model') fake.enqueue({ kind: 'text', text: 'sounds lovely' });
      const s = await createSession();
      const content =
        'I want to plan a week-long trip to Lisbon in spring, with good food and some sailing on the Tagus if the weather allows';
      const res = await api
        .post(`/v1/sessions/${s.id}/messages`)
        .set(auth)
        .send({ content, model });
      expect(res.status).toBe(202);
      const runId = res.body.run.id as string;
      expect((await api.get(`/v1/runs/${runId}/wait?timeout=30`).set(auth)).status).toBe(200);
      const events = await fetch(`${platform.url}/v1/runs/${runId}/events`, { headers: auth });
      const titles = (await readSse(events))
        .filter((f) => f.event === 'title')
        .map((f) => (JSON.parse(f.data) as { title: string }).title);
      const stored = (await api.get(`/v1/sessions/${s.id}`).set(auth)).body as SessionJson;
      expect(stored.title).toEqual(expect.any(String));
      expect(titles).toEqual([stored.title]);

      // A later turn keeps the title and announces none.
      const second = await turn(s.id, 'and a day trip to Sintra?');
      const later = await fetch(`${platform.url}/v1/runs/${second.id}/events`, { headers: auth });
      expect((await readSse(later)).some((f) => f.event === 'title')).toBe(false);
      expect((await api.get(`/v1/sessions/${s.id}`).set(auth)).body.title).toBe(stored.title);
    },
  );

  it('a session created with a title keeps it and its first turn announces no other', async () => {
    fake.enqueue({ kind: 'text', text: 'ok' });
    const s = await createSession({ title: 'Mine' });
    const done = await turn(s.id, 'a first message long enough to be a title of its own');
    const events = await fetch(`${platform.url}/v1/runs/${done.id}/events`, { headers: auth });
    expect((await readSse(events)).some((f) => f.event === 'title')).toBe(false);
    expect((await api.get(`/v1/sessions/${s.id}`).set(auth)).body.title).toBe('Mine');
  });

  it('records the caller from X-User-Id (or body user_id) on the run', async () => {
    const s = await createSession({ user_id: 'owner' });
    const user = `u-${randomUUID()}`;
    const viaHeader = await api
      .post(`/v1/sessions/${s.id}/messages`)
      .set(auth)
      .set('X-User-Id', user)
      .send({ content: 'a' });
    expect(viaHeader.body.run.user_id).toBe(user);
    const viaBody = await api
      .post(`/v1/sessions/${s.id}/messages`)
      .set(auth)
      .send({ content: 'b', user_id: 'body-user' });
    expect(viaBody.body.run.user_id).toBe('body-user');
    const fallback = await api
      .post(`/v1/sessions/${s.id}/messages`)
      .set(auth)
      .send({ content: 'c' });
    expect(fallback.body.run.user_id).toBe('owner');
    for (const r of [viaHeader, viaBody, fallback])
      await api.get(`/v1/runs/${r.body.run.id}/wait?timeout=30`).set(auth);
    const { rows } = await platform.pool.query(
      'select id from users where tenant_id = $1 and id = $2',
      ['00000000-0000-4000-8000-000000000001', user],
    );
    expect(rows).toHaveLength(1);
    const tooLong = await api
      .post(`/v1/sessions/${s.id}/messages`)
      .set(auth)
      .set('X-User-Id', 'x'.repeat(300))
      .send({ content: 'd' });
    expect(tooLong.status).toBe(400);
  });

  it('DELETE removes the session with its messages and runs', async () => {
    const s = await createSession();
    const finished = await turn(s.id, 'to be forgotten');
    const count = async () =>
      (
        await platform.pool.query<{ messages: number; runs: number; events: number }>(
          `select (select count(*) from messages where session_id = $1)::int as messages,
                  (select count(*) from runs where session_id = $1)::int as runs,
                  (select count(*) from run_events where run_id = $2)::int as events`,
          [s.id, finished.id],
        )
      ).rows[0];
    const before = await count();
    expect(before.messages).toBe(2);
    expect(before.runs).toBe(1);
    expect(before.events).toBeGreaterThan(0);

    expect((await api.delete(`/v1/sessions/${s.id}`).set(auth)).status).toBe(200);
    expect(await count()).toEqual({ messages: 0, runs: 0, events: 0 });
    expect((await api.get(`/v1/sessions/${s.id}/messages`).set(auth)).status).toBe(404);
    expect((await api.get(`/v1/runs/${finished.id}`).set(auth)).status).toBe(404);
  });
});
