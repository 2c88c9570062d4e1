import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import { startPlatform, type Platform } from '../helpers/platform';
import { concretePath, routeSpecs } from '../helpers/routes';

const SECRET_WORD = `zanzibar${randomUUID().slice(0, 8)}`;

/** A valid body per route (so a request reaches the tenant check, not validation). */
const BODIES: Record<string, unknown> = {
  'patch /sessions/:id': { title: 'stolen' },
  'post /sessions/:id/messages': { content: 'hello', multitask_strategy: 'enqueue' },
  'post /sessions/:id/stop': {},
  'patch /memories/:id': { text: 'overwritten' },
  'post /runs/:id/cancel': {},
  'post /dreaming/runs/:id/revert': {},
  'post /responses/:id/cancel': {},
  'post /conversations/:id': { metadata: { stolen: 'yes' } },
  'post /conversations/:id/items': { items: [{ role: 'user', content: 'planted' }] },
  'patch /ap/threads/:id': { metadata: { stolen: 'yes' } },
  'post /ap/threads/:id/history': {},
  'post /ap/threads/:id/runs': {
    assistant_id: 'default',
    input: { messages: [{ role: 'user', content: 'hi' }] },
  },
  'post /ap/threads/:id/runs/stream': {
    assistant_id: 'default',
    input: { messages: [{ role: 'user', content: 'hi' }] },
  },
  'post /ap/threads/:id/runs/wait': {
    assistant_id: 'default',
    input: { messages: [{ role: 'user', content: 'hi' }] },
  },
};

/** A's run and session as the Responses façade names them. */
const hex = (uuid: string) => uuid.replace(/-/g, '');

/**
 * Tenant B walks every route with tenant A's ids: each is 404, nothing of A's
 * is in any response, and A's rows are byte for byte what they were.
 */
describe('tenant isolation', () => {
  let platform: Platform;
  const a = { tenant: randomUUID(), key: '', user: `alice-${randomUUID()}` };
  const b = { tenant: randomUUID(), key: '' };
  const ids: Record<string, string> = {};

  const as = (key: string) => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    platform = await startPlatform({ EMBEDDINGS_PROVIDER: 'local' });
    for (const t of [a, b]) {
      await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
        t.tenant,
        'iso',
      ]);
      t.key = (await createApiKey(platform.pool, t.tenant)).key;
    }
    const api = () => request(platform.url);
    const session = await api()
      .post('/v1/sessions')
      .set(as(a.key))
      .send({ user_id: a.user })
      .expect(201);
    ids.session = session.body.id;
    const turn = await api()
      .post(`/v1/sessions/${ids.session}/messages`)
      .set(as(a.key))
      .send({ content: `remember ${SECRET_WORD}`, user_id: a.user })
      .expect(202);
    ids.run = turn.body.run.id;
    await api().get(`/v1/runs/${ids.run}/wait?timeout=60`).set(as(a.key)).expect(200);
    const file = await api()
      .post('/v1/files')
      .set(as(a.key))
      .attach('file', Buffer.from(`notes about ${SECRET_WORD}\n`), {
        filename: 'a.txt',
        contentType: 'text/plain',
      })
      .expect(201);
    ids.file = file.body.id;
    await api().get(`/v1/runs/${file.body.run_id}/wait?timeout=60`).set(as(a.key)).expect(200);
    const memory = await api()
      .post('/v1/memories?wait=true')
      .set(as(a.key))
      .send({ text: `Alice likes ${SECRET_WORD}`, user_id: a.user });
    expect([200, 201]).toContain(memory.status);
    ids.memory = (memory.body.results?.[0]?.id ??
      memory.body.data?.[0]?.id ??
      memory.body.id) as string;
    const memoryRow = await platform.pool.query(
      'select id from memories where tenant_id = $1 limit 1',
      [a.tenant],
    );
    ids.memory ??= memoryRow.rows[0]?.id;
    const dream = await api()
      .post('/v1/dreaming/runs')
      .set(as(a.key))
      .send({ user_id: a.user })
      .expect(202);
    ids.dream = dream.body.id;
    await api().get(`/v1/runs/${ids.dream}/wait?timeout=60`).set(as(a.key)).expect(200);
  });
  afterAll(() => platform?.close());

  /** A digest of every row of tenant A in every table that has a tenant_id. */
  async function snapshot(): Promise<Record<string, string>> {
    const tables = await platform.pool.query<{ table_name: string }>(
      `select table_name from information_schema.columns
       where column_name = 'tenant_id' and table_schema = 'public' and table_name not in ('api_keys')`,
    );
    const out: Record<string, string> = {};
    for (const { table_name } of tables.rows) {
      const res = await platform.pool.query<{ n: string; digest: string }>(
        `select count(*)::text as n, md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as digest
         from "${table_name}" t where tenant_id = $1`,
        [a.tenant],
      );
      out[table_name] = `${res.rows[0].n}:${res.rows[0].digest}`;
    }
    const events = await platform.pool.query<{ n: string }>(
      'select count(*)::text as n from run_events e join runs r on r.id = e.run_id where r.tenant_id = $1',
      [a.tenant],
    );
    out.run_events = events.rows[0].n;
    return out;
  }

  const idFor = (path: string): string =>
    path.startsWith('/ap/threads')
      ? ids.session
      : path.startsWith('/responses')
        ? `resp_${hex(ids.run)}`
        : path.startsWith('/conversations')
          ? `conv_${hex(ids.session)}`
          : path.startsWith('/sessions')
            ? ids.session
            : path.startsWith('/runs')
              ? ids.run
              : path.startsWith('/files')
                ? ids.file
                : path.startsWith('/memories')
                  ? ids.memory
                  : path.startsWith('/dreaming/runs')
                    ? ids.dream
                    : randomUUID();

  it('has data for A to steal', () => {
    expect(Object.values(ids).every(Boolean)).toBe(true);
  });

  it('is 404 on every route with A ids, leaks nothing, and changes nothing of A', async () => {
    const before = await snapshot();
    expect(Number(before.messages.split(':')[0])).toBeGreaterThan(0);
    const failures: string[] = [];
    const specs = routeSpecs(platform.config).filter(
      (s) => s.scope !== 'public' && s.scope !== 'admin',
    );
    for (const spec of specs) {
      const url = concretePath(spec, idFor(spec.path), a.user);
      const key = `${spec.method} ${spec.path}`;
      let req = request(platform.url)[spec.method as 'get'](url).set(as(b.key)).timeout(15_000);
      if (spec.path === '/memories' || spec.path === '/memories/search')
        req = req.query({ user_id: a.user });
      const res = spec.upload
        ? await req.attach('file', Buffer.from('x'), {
            filename: 'b.txt',
            contentType: 'text/plain',
          })
        : await req.send(
            spec.method === 'get' || spec.method === 'delete' ? undefined : (BODIES[key] ?? {}),
          );
      const text = JSON.stringify(res.body) + (res.text ?? '');
      for (const [what, id] of Object.entries(ids)) {
        if (text.includes(id)) failures.push(`${key}: response contains A's ${what} id`);
      }
      if (text.includes(SECRET_WORD)) failures.push(`${key}: response contains A's content`);
      if (spec.path.includes(':id') && !spec.path.startsWith('/users') && res.status !== 404)
        failures.push(`${key} → ${res.status}, not 404`);
      if (res.status >= 500) failures.push(`${key} → ${res.status}`);
    }
    // Routes that take A's ids in a header, the query or the body.
    const chat = await request(platform.url)
      .post('/v1/chat/completions')
      .set(as(b.key))
      .set('X-Session-Id', ids.session)
      .send({ model: 'simulator', messages: [{ role: 'user', content: 'what did I say?' }] });
    if (JSON.stringify(chat.body).includes(SECRET_WORD)) failures.push('chat with A session leaks');
    const feedback = await request(platform.url)
      .post('/v1/feedback')
      .set(as(b.key))
      .send({ run_id: ids.run, rating: 1 });
    if (feedback.status !== 404) failures.push(`feedback on A run → ${feedback.status}`);
    for (const thread of [
      { previous_response_id: `resp_${hex(ids.run)}` },
      { conversation: `conv_${hex(ids.session)}` },
    ]) {
      const res = await request(platform.url)
        .post('/v1/responses')
        .set(as(b.key))
        .send({ model: 'simulator', input: 'what did I say?', ...thread });
      if (res.status !== 404)
        failures.push(`response on ${JSON.stringify(thread)} → ${res.status}`);
    }
    const runs = await request(platform.url)
      .get(`/v1/runs?session_id=${ids.session}`)
      .set(as(b.key));
    if (JSON.stringify(runs.body).includes(ids.run)) failures.push('run list leaks');
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});
