import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import {
  platformEnv,
  spawnReverie,
  startPlatform,
  type Platform,
  type ReverieProcess,
} from '../helpers/platform';

const LIMIT = 100;

/** Rate limits shared in Postgres (API.md "Security and limits"). */
describe('rate limits', () => {
  let platform: Platform;
  let replicas: ReverieProcess[] = [];
  let admin: string;
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    // A window of LIMIT requests per 100 s: nothing refills during the test.
    const overrides = {
      RATE_RPS: '1',
      RATE_BURST: String(LIMIT),
      RATE_TIERS: JSON.stringify({ anonymous: { rps: 0.1, burst: 3 } }),
      MAX_CONCURRENT_TURNS: '2',
    };
    const env = await platformEnv(overrides);
    platform = await startPlatform({ ...overrides, ADMIN_TOKEN: env.ADMIN_TOKEN });
    admin = env.ADMIN_TOKEN;
    replicas = await Promise.all([spawnReverie('api', env), spawnReverie('api', env)]);
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await platform?.close();
  });

  const newTenantKey = async (limits?: Record<string, number>) => {
    const tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name, limits) values ($1, $2, $3)', [
      tenantId,
      'limits',
      JSON.stringify(limits ?? {}),
    ]);
    return { tenantId, key: (await createApiKey(platform.pool, tenantId)).key };
  };

  it('holds one key to its limit within 5 % across two API processes', async () => {
    const { key } = await newTenantKey();
    const total = LIMIT * 3;
    let accepted = 0;
    let refused = 0;
    const urls = replicas.map((r) => r.url!);
    for (let i = 0; i < total; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          request(urls[(i + j) % 2])
            .get('/v1/sessions?limit=1')
            .set(bearer(key)),
        ),
      );
      for (const res of batch) {
        if (res.status === 200) accepted++;
        else if (res.status === 429) refused++;
      }
    }
    process.stdout.write(
      `rate limit: ${accepted} accepted of ${total}, limit ${LIMIT}, 2 processes\n`,
    );
    expect(accepted + refused).toBe(total);
    expect(Math.abs(accepted - LIMIT)).toBeLessThanOrEqual(LIMIT * 0.05);
  });

  it('answers 429 rate_limit_exceeded with details, Retry-After and RateLimit-* headers', async () => {
    const { key } = await newTenantKey({ rps: 1, burst: 2 });
    const first = await request(platform.url).get('/v1/sessions').set(bearer(key));
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('2');
    expect(first.headers['ratelimit-remaining']).toBe('1');
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0);
    await request(platform.url).get('/v1/sessions').set(bearer(key)).expect(200);
    const over = await request(platform.url).get('/v1/sessions').set(bearer(key));
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({
      code: 'rate_limit_exceeded',
      type: 'rate_limit_error',
      details: { limit: 2, tier: 'free', scope: 'key' },
    });
    expect(over.body.error.details.retry_after).toBeGreaterThan(0);
    expect(over.headers['retry-after']).toBe(String(over.body.error.details.retry_after));
    expect(over.headers['ratelimit-remaining']).toBe('0');
  });

  it("holds a tenant's callers together to the caller limit times RATE_TENANT_FACTOR (10)", async () => {
    // 3 requests per key per 300 s, so 30 per tenant: 11 keys asking 3 times each.
    const { tenantId } = await newTenantKey({ rps: 0.01, burst: 3 });
    const keys = await Promise.all(
      Array.from({ length: 11 }, async () => (await createApiKey(platform.pool, tenantId)).key),
    );
    const urls = replicas.map((r) => r.url!);
    const responses = await Promise.all(
      keys.flatMap((key, k) =>
        [0, 1, 2].map((i) =>
          request(urls[(k + i) % 2])
            .get('/v1/sessions?limit=1')
            .set(bearer(key)),
        ),
      ),
    );
    const refused = responses.filter((r) => r.status === 429);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(30);
    expect(refused).toHaveLength(3);
    for (const res of refused)
      expect(res.body.error.details).toMatchObject({ limit: 30, scope: 'tenant' });
  });

  it('limits anonymous callers per IP by the anonymous tier; the bypass list lifts it on every replica', async () => {
    const url = replicas[0].url!;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(url).get('/v1/sessions')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const over = await request(url).get('/v1/sessions');
    expect(over.body.error.details).toMatchObject({ tier: 'anonymous', scope: 'ip', limit: 3 });

    const added = await request(platform.url)
      .post('/v1/admin/rate-limit/bypass')
      .set(bearer(admin))
      .send({ type: 'cidr', value: '127.0.0.0/8' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ type: 'cidr', value: '127.0.0.0/8' });
    const list = await request(platform.url).get('/v1/admin/rate-limit/bypass').set(bearer(admin));
    expect(list.body.data.map((e: { id: string }) => e.id)).toContain(added.body.id);
    await new Promise((r) => setTimeout(r, 100));
    const bypassed = await request(url).get('/v1/sessions');
    expect(bypassed.status).toBe(200);
    expect(bypassed.headers['ratelimit-limit']).toBeUndefined();

    await request(platform.url)
      .delete(`/v1/admin/rate-limit/bypass/${added.body.id}`)
      .set(bearer(admin))
      .expect(200);
    await new Promise((r) => setTimeout(r, 100));
    expect((await request(url).get('/v1/sessions')).status).toBe(429);
    const bad = await request(platform.url)
      .post('/v1/admin/rate-limit/bypass')
      .set(bearer(admin))
      .send({ type: 'cidr', value: '10.0.0.0/99' });
    expect(bad.status).toBe(400);
  });

  it('never limits admin credentials, nor health and metrics', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(replicas[1].url!).get('/v1/sessions').set(bearer(admin));
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    for (let i = 0; i < 5; i++) {
      const res = await request(replicas[1].url!).get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
  });

  it('caps the turns a user has running at once (429 concurrent_turns)', async () => {
    const { tenantId, key } = await newTenantKey();
    for (let i = 0; i < 2; i++) {
      await platform.pool.query(
        `insert into runs (id, tenant_id, kind, status, user_id) values ($1, $2, 'turn', 'running', 'bob')`,
        [randomUUID(), tenantId],
      );
    }
    const res = await request(platform.url)
      .post('/v1/chat/completions')
      .set(bearer(key))
      .set('X-User-Id', 'bob')
      .send({ model: 'simulator', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(429);
    expect(res.body.error.details).toMatchObject({ scope: 'concurrent_turns', limit: 2 });
    const runs = await platform.pool.query(
      'select count(*)::int as n from runs where tenant_id = $1',
      [tenantId],
    );
    expect(runs.rows[0].n).toBe(2);
    const other = await request(platform.url)
      .post('/v1/chat/completions')
      .set(bearer(key))
      .set('X-User-Id', 'carol')
      .send({ model: 'simulator', messages: [{ role: 'user', content: 'hi' }] });
    expect(other.status).toBe(200);
  });

  it('lets only as many simultaneous starts through as the cap allows', async () => {
    const { tenantId, key } = await newTenantKey();
    await platform.pool.query(
      `insert into runs (id, tenant_id, kind, status, user_id) values ($1, $2, 'turn', 'running', 'dave')`,
      [randomUUID(), tenantId],
    );
    // The replicas' task queue has no worker: an accepted turn stays queued, so it counts.
    const sessions = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(replicas[0].url!).post('/v1/sessions').set(bearer(key)).send({ user_id: 'dave' }),
      ),
    );
    // One place left under the cap of 2: eight starts race for it on two replicas.
    const raced = await Promise.all(
      sessions.map((session, i) =>
        request(replicas[i % 2].url!)
          .post(`/v1/sessions/${session.body.id}/messages`)
          .set(bearer(key))
          .set('X-User-Id', 'dave')
          .send({ content: `race ${i}` }),
      ),
    );
    const statuses = raced.map((r) => r.status).sort();
    expect(statuses).toEqual([202, 429, 429, 429, 429, 429, 429, 429]);
    const runs = await platform.pool.query(
      "select count(*)::int as n from runs where tenant_id = $1 and user_id = 'dave'",
      [tenantId],
    );
    expect(runs.rows[0].n).toBe(2);
  });
});
