import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import type { Pool } from '../../src/db/pool';
import { platformEnv, spawnReverie, testPool, type ReverieProcess } from '../helpers/platform';

const CAP = 3;
const RENEW_MS = 300;
/** Three missed renewals (src/limits/sse-connections.ts). */
const TTL_MS = RENEW_MS * 3;

/** Open SSE streams per key, capped across API replicas by leases in Postgres. */
describe('SSE connection cap across replicas', () => {
  let pool: Pool;
  let env: Record<string, string>;
  let replicas: ReverieProcess[] = [];
  const open: AbortController[] = [];

  beforeAll(async () => {
    pool = testPool();
    env = await platformEnv({
      SSE_MAX_PER_KEY: String(CAP),
      SSE_LEASE_RENEW_MS: String(RENEW_MS),
    });
    replicas = await Promise.all([spawnReverie('api', env), spawnReverie('api', env)]);
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.abort();
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await pool?.end();
  });

  /** A key of a new tenant and a running run of that tenant to stream (it never ends). */
  const newCaller = async () => {
    const tenantId = randomUUID();
    await pool.query('insert into tenants (id, name) values ($1, $2)', [tenantId, 'sse']);
    const runId = randomUUID();
    await pool.query(
      `insert into runs (id, tenant_id, kind, status) values ($1, $2, 'turn', 'running')`,
      [runId, tenantId],
    );
    const { key } = await createApiKey(pool, tenantId, { name: 'sse', scopes: ['chat'] });
    return { key, runId };
  };

  /** Open a stream; a 200 stays open until the test aborts it. */
  const stream = async (url: string, caller: { key: string; runId: string }) => {
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/runs/${caller.runId}/events`, {
      headers: { Authorization: `Bearer ${caller.key}` },
      signal: controller.signal,
    });
    // A refusal is read whole (its contract body); a stream stays open.
    const body = res.status === 200 ? undefined : await res.json();
    if (res.status === 200) open.push(controller);
    return { res, body, close: () => controller.abort() };
  };

  const leases = async (): Promise<number> =>
    (await pool.query<{ n: number }>('select count(*)::int as n from sse_leases')).rows[0].n;

  /** Poll until `fn` holds (leases are released asynchronously). */
  const eventually = async (fn: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('holds the cap exactly across two replicas, even for simultaneous opens', async () => {
    const caller = await newCaller();
    const urls = replicas.map((r) => r.url!);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stream(urls[i % 2], caller)),
    );
    const statuses = results.map((r) => r.res.status);
    const accepted = statuses.filter((s) => s === 200).length;
    process.stdout.write(
      `sse cap: ${accepted} of 12 simultaneous opens accepted across 2 replicas, cap ${CAP}\n`,
    );
    expect(accepted).toBe(CAP);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - CAP);
    const refused = results.find((r) => r.res.status === 429)!;
    expect(refused.res.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({
      error: {
        code: 'rate_limit_exceeded',
        details: { limit: CAP, tier: 'free', retry_after: 1, scope: 'sse_connections' },
      },
    });
  });

  it('keeps leases alive past their expiry while the streams stay open', async () => {
    const caller = await newCaller();
    for (let i = 0; i < CAP; i++)
      expect((await stream(replicas[i % 2].url!, caller)).res.status).toBe(200);
    await new Promise((r) => setTimeout(r, TTL_MS * 3));
    expect((await stream(replicas[0].url!, caller)).res.status).toBe(429);
    expect((await stream(replicas[1].url!, caller)).res.status).toBe(429);
  });

  it('frees a place when a stream closes, on the other replica too', async () => {
    const caller = await newCaller();
    const streams = [];
    for (let i = 0; i < CAP; i++) streams.push(await stream(replicas[0].url!, caller));
    expect(streams.map((s) => s.res.status)).toEqual(Array(CAP).fill(200));
    expect((await stream(replicas[1].url!, caller)).res.status).toBe(429);
    const before = await leases();
    streams[0].close();
    // Well before any lease could expire: the release deleted it.
    await eventually(async () => (await leases()) === before - 1, TTL_MS / 2);
    expect((await stream(replicas[1].url!, caller)).res.status).toBe(200);
    expect((await stream(replicas[0].url!, caller)).res.status).toBe(429);
  });

  it("frees a killed replica's places once its leases expire", async () => {
    const victim = await spawnReverie('api', env);
    replicas.push(victim);
    const caller = await newCaller();
    for (let i = 0; i < CAP; i++) expect((await stream(victim.url!, caller)).res.status).toBe(200);
    expect((await stream(replicas[0].url!, caller)).res.status).toBe(429);
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    let reopened = await stream(replicas[0].url!, caller);
    while (reopened.res.status === 429 && Date.now() - killedAt < TTL_MS * 5) {
      await new Promise((r) => setTimeout(r, 100));
      reopened = await stream(replicas[0].url!, caller);
    }
    const freedMs = Date.now() - killedAt;
    process.stdout.write(`sse cap: a killed replica's leases freed after ${freedMs} ms\n`);
    expect(reopened.res.status).toBe(200);
    expect(freedMs).toBeLessThan(TTL_MS * 5);
  });

  it('never caps the admin token', async () => {
    // The admin token acts in the default tenant.
    const runId = randomUUID();
    await pool.query(
      `insert into runs (id, tenant_id, kind, status) values ($1, $2, 'turn', 'running')`,
      [runId, DEFAULT_TENANT_ID],
    );
    const admin = { key: env.ADMIN_TOKEN, runId };
    for (let i = 0; i < CAP + 2; i++)
      expect((await stream(replicas[i % 2].url!, admin)).res.status).toBe(200);
  });
});
