import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { ApiDeps } from '../../src/api/context';
import { ApiMetrics } from '../../src/api/middleware/metrics';
import { loadConfig } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import { createPool, type Pool } from '../../src/db/pool';
import { testLogger } from '../helpers/test-logs';
import { startApi, type RunningApi } from '../../src/server';
import { platformEnv, startPlatform, type Platform } from '../helpers/platform';

/** The error contract (API.md "Errors"), identity, request ids, health and metrics. */

type Res = request.Response;

/** The exact contract shape: `{error: {code, message, type, details, request_id}}` and nothing else. */
function expectError(res: Res, status: number, code: string): Record<string, unknown> {
  expect({ status: res.status, body: res.body }).toMatchObject({
    status,
    body: { error: { code } },
  });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(['error']);
  const error = res.body.error as Record<string, unknown>;
  expect(Object.keys(error).sort()).toEqual(['code', 'details', 'message', 'request_id', 'type']);
  expect(typeof error.message).toBe('string');
  expect((error.message as string).length).toBeGreaterThan(0);
  expect(typeof error.type).toBe('string');
  expect(error.details).toEqual(expect.any(Object));
  expect(error.request_id).toBe(res.headers['x-request-id']);
  return error;
}

function expectIssueAt(error: Record<string, unknown>, field: string): void {
  const issues = (error.details as { issues?: { path: string; message: string; code: string }[] })
    .issues;
  expect(issues).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        path: field,
        message: expect.any(String),
        code: expect.any(String),
      }),
    ]),
  );
}

/** A tenant of its own, so row counts are not disturbed by tests running in parallel. */
async function createTenant(pool: Pool): Promise<{ tenantId: string; key: string; keyId: string }> {
  const tenantId = randomUUID();
  await pool.query('insert into tenants (id, name) values ($1, $2)', [
    tenantId,
    `test-${tenantId.slice(0, 8)}`,
  ]);
  const { id, key } = await createApiKey(pool, tenantId, {
    name: 'test',
    scopes: ['chat', 'files'],
  });
  return { tenantId, key, keyId: id };
}

async function tenantCounts(pool: Pool, tenantId: string) {
  const { rows } = await pool.query<{
    sessions: number;
    runs: number;
    messages: number;
    events: number;
  }>(
    `select (select count(*) from sessions where tenant_id = $1)::int as sessions,
            (select count(*) from runs where tenant_id = $1)::int as runs,
            (select count(*) from messages where tenant_id = $1)::int as messages,
            (select count(*) from run_events e join runs r on r.id = e.run_id where r.tenant_id = $1)::int as events`,
    [tenantId],
  );
  return rows[0];
}

describe('API errors and identity', () => {
  let platform: Platform;
  let api: request.Agent;
  let auth: { Authorization: string };

  beforeAll(async () => {
    platform = await startPlatform({ MAX_BODY_BYTES: '2048' });
    api = request.agent(platform.url);
    auth = { Authorization: `Bearer ${platform.apiKey}` };
  });
  afterAll(async () => {
    await platform?.close();
  });

  describe('malformed requests', () => {
    it('malformed JSON is 400 invalid_request', async () => {
      const res = await api
        .post('/v1/sessions')
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{"title": ');
      const error = expectError(res, 400, 'invalid_request');
      expect(error.type).toBe('invalid_request_error');
    });

    it('an unknown route is a JSON 404, under /v1 and at the root', async () => {
      expect(expectError(await api.get('/v1/no-such-thing').set(auth), 404, 'not_found').type).toBe(
        'not_found_error',
      );
      expectError(await api.get('/no-such-thing'), 404, 'not_found');
      expectError(await api.post('/api/v1/no-such-thing').send({}), 404, 'not_found');
    });

    it('a body over MAX_BODY_BYTES is 413 payload_too_large', async () => {
      const res = await api
        .post('/v1/sessions')
        .set(auth)
        .send({ title: 'x'.repeat(400), metadata: { blob: 'y'.repeat(4000) } });
      const error = expectError(res, 413, 'payload_too_large');
      expect(error.details).toEqual({ limit_bytes: 2048 });
    });

    it('a body just under the limit is accepted', async () => {
      const res = await api
        .post('/v1/sessions')
        .set(auth)
        .send({ metadata: { blob: 'y'.repeat(1500) } });
      expect(res.status).toBe(201);
    });

    it('an unknown multitask_strategy is 400 with the zod issue in details', async () => {
      const session = (await api.post('/v1/sessions').set(auth).send({})).body as { id: string };
      const res = await api
        .post(`/v1/sessions/${session.id}/messages`)
        .set(auth)
        .send({ content: 'hi', multitask_strategy: 'x' });
      expectIssueAt(expectError(res, 400, 'invalid_request'), 'multitask_strategy');
    });

    it.each([
      ['/v1/sessions?limit=-1', 'limit'],
      ['/v1/sessions?limit=abc', 'limit'],
      ['/v1/sessions?limit=0', 'limit'],
      ['/v1/sessions?limit=1.5', 'limit'],
      ['/v1/runs?limit=-5', 'limit'],
      ['/v1/runs?limit=ten', 'limit'],
      ['/v1/runs?status=done', 'status'],
      ['/v1/runs?kind=chat', 'kind'],
      ['/v1/runs?session_id=not-a-uuid', 'session_id'],
    ])('GET %s is 400 with an issue at %s', async (url, field) => {
      expectIssueAt(expectError(await api.get(url).set(auth), 400, 'invalid_request'), field);
    });

    it('a limit given twice (an array) is 400, not a crash', async () => {
      expectError(await api.get('/v1/sessions?limit=1&limit=2').set(auth), 400, 'invalid_request');
    });

    it.each([
      ['get', '/v1/sessions/not-a-uuid'],
      ['patch', '/v1/sessions/123'],
      ['delete', '/v1/sessions/123'],
      ['get', '/v1/sessions/123/messages'],
      ['post', '/v1/sessions/123/messages'],
      ['get', '/v1/runs/xyz'],
      ['get', '/v1/runs/xyz/wait'],
      ['post', '/v1/runs/xyz/cancel'],
      ['get', '/v1/runs/xyz/events'],
    ] as const)('%s %s (malformed id) is 400 with the issue in details', async (method, url) => {
      const body =
        method === 'post' ? { content: 'hi' } : method === 'patch' ? { title: 't' } : undefined;
      const res = await api[method](url).set(auth).send(body);
      const error = expectError(res, 400, 'invalid_request');
      expectIssueAt(error, 'id');
    });

    it('an invalid cursor is 400', async () => {
      expectError(await api.get('/v1/sessions?cursor=garbage').set(auth), 400, 'invalid_request');
      expectError(await api.get('/v1/runs?cursor=garbage').set(auth), 400, 'invalid_request');
    });

    it('a malformed X-Session-Id on chat completions is 400', async () => {
      const res = await api
        .post('/v1/chat/completions')
        .set(auth)
        .set('X-Session-Id', 'nope')
        .send({ model: 'simulator', messages: [{ role: 'user', content: 'hi' }] });
      expectError(res, 400, 'invalid_request');
    });

    it('a body that is not JSON is 415 unsupported_media_type and stores nothing', async () => {
      const tenant = await createTenant(platform.pool);
      const as = { Authorization: `Bearer ${tenant.key}` };
      const session = (await api.post('/v1/sessions').set(as).send({})).body as { id: string };
      const before = await tenantCounts(platform.pool, tenant.tenantId);
      const attempts = [
        await api
          .post('/v1/sessions')
          .set(as)
          .set('Content-Type', 'text/plain')
          .send('title=hello'),
        await api
          .post(`/v1/sessions/${session.id}/messages`)
          .set(as)
          .set('Content-Type', 'text/plain')
          .send('hello'),
        await api.post('/v1/chat/completions').set(as).type('form').send({ model: 'simulator' }),
      ];
      for (const res of attempts) {
        const error = expectError(res, 415, 'unsupported_media_type');
        expect(error.message).toMatch(/JSON/);
      }
      expect(await tenantCounts(platform.pool, tenant.tenantId)).toEqual(before);
      // A POST without any body still works where the body is optional.
      expect((await api.post('/v1/sessions').set(as)).status).toBe(201);
    });

    it('an unknown field in a strict body is 400', async () => {
      expectIssueAt(
        expectError(
          await api.post('/v1/sessions').set(auth).send({ titel: 'typo' }),
          400,
          'invalid_request',
        ),
        '',
      );
    });

    it('a rejected request changes no state', async () => {
      const tenant = await createTenant(platform.pool);
      const other = { Authorization: `Bearer ${tenant.key}` };
      const session = (await api.post('/v1/sessions').set(other).send({ title: 'keep' })).body as {
        id: string;
        title: string;
      };
      const before = await tenantCounts(platform.pool, tenant.tenantId);
      expect(before).toEqual({ sessions: 1, runs: 0, messages: 0, events: 0 });

      const rejected: Res[] = [
        await api
          .post(`/v1/sessions/${session.id}/messages`)
          .set(other)
          .send({ content: 'hi', multitask_strategy: 'x' }),
        await api.post(`/v1/sessions/${session.id}/messages`).set(other).send({ content: '' }),
        await api
          .post(`/v1/sessions/${session.id}/messages`)
          .set(other)
          .send({ content: 'hi', temperature: 9 }),
        await api
          .post(`/v1/sessions/${session.id}/messages`)
          .set(other)
          .set('Content-Type', 'application/json')
          .send('{oops'),
        await api
          .post(`/v1/sessions/${session.id}/messages`)
          .set(other)
          .send({ content: 'z'.repeat(3000) }),
        await api.patch(`/v1/sessions/${session.id}`).set(other).send({ title: 42 }),
        await api.post('/v1/sessions').set(other).send({ metadata: 'not an object' }),
        await api
          .post('/v1/chat/completions')
          .set(other)
          .send({ model: 'simulator', messages: [] }),
        await api
          .post('/v1/chat/completions')
          .set(other)
          .send({ model: 'simulator', messages: [{ role: 'assistant', content: 'a' }] }),
      ];
      expect(rejected.map((r) => r.status)).toEqual([400, 400, 400, 400, 413, 400, 400, 400, 400]);
      for (const res of rejected)
        expect(res.body.error.code).toMatch(/^(invalid_request|payload_too_large)$/);

      expect(await tenantCounts(platform.pool, tenant.tenantId)).toEqual(before);
      const after = await api.get(`/v1/sessions/${session.id}`).set(other);
      expect(after.body.title).toBe('keep');
    });
  });

  describe('tenancy and authentication', () => {
    let other: { tenantId: string; key: string; keyId: string };
    let sessionId: string;
    let runId: string;

    beforeAll(async () => {
      other = await createTenant(platform.pool);
      // A session and a finished run of the default tenant.
      const res = await api
        .post('/v1/chat/completions')
        .set(auth)
        .send({ model: 'simulator', messages: [{ role: 'user', content: 'hello' }] });
      expect(res.status).toBe(200);
      sessionId = res.headers['x-session-id'];
      runId = res.headers['x-run-id'];
    });

    it("another tenant's session and run ids are 404, never 403 or data", async () => {
      const as = { Authorization: `Bearer ${other.key}` };
      const attempts: Res[] = [
        await api.get(`/v1/sessions/${sessionId}`).set(as),
        await api.patch(`/v1/sessions/${sessionId}`).set(as).send({ title: 'stolen' }),
        await api.get(`/v1/sessions/${sessionId}/messages`).set(as),
        await api.post(`/v1/sessions/${sessionId}/messages`).set(as).send({ content: 'hi' }),
        await api.post(`/v1/sessions/${sessionId}/stop`).set(as),
        await api.delete(`/v1/sessions/${sessionId}`).set(as),
        await api.get(`/v1/runs/${runId}`).set(as),
        await api.get(`/v1/runs/${runId}/wait?timeout=0`).set(as),
        await api.post(`/v1/runs/${runId}/cancel`).set(as),
        await api.get(`/v1/runs/${runId}/events`).set(as),
        await api
          .post('/v1/chat/completions')
          .set(as)
          .set('X-Session-Id', sessionId)
          .send({ model: 'simulator', messages: [{ role: 'user', content: 'hi' }] }),
      ];
      for (const res of attempts)
        expect(expectError(res, 404, 'not_found').type).toBe('not_found_error');

      // Nothing of the first tenant is listed for the second, nor changed.
      const sessions = await api.get('/v1/sessions?limit=100').set(as);
      expect(sessions.body.data.map((s: { id: string }) => s.id)).not.toContain(sessionId);
      const runs = await api.get(`/v1/runs?session_id=${sessionId}`).set(as);
      expect(runs.body.data).toEqual([]);
      const mine = await api.get(`/v1/sessions/${sessionId}`).set(auth);
      expect(mine.status).toBe(200);
      expect(mine.body.title).not.toBe('stolen');
      const { rows } = await platform.pool.query(
        'select count(*)::int as n from runs where session_id = $1',
        [sessionId],
      );
      expect(rows[0].n).toBe(1);
    });

    it('an invalid Bearer key is 401 and never falls back to anonymous', async () => {
      for (const header of [
        'Bearer rv_not-a-key',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'rv_no_scheme',
      ]) {
        const res = await api.get('/v1/sessions').set('Authorization', header);
        expect(expectError(res, 401, 'unauthorized').type).toBe('authentication_error');
      }
      // The same request without a key is anonymous (default tenant) outside production.
      expect((await api.get('/v1/sessions')).status).toBe(200);
    });

    it('a key revoked in the database directly is 401 once its notice arrives', async () => {
      const tenant = await createTenant(platform.pool);
      const as = { Authorization: `Bearer ${tenant.key}` };
      expect((await api.get('/v1/sessions').set(as)).status).toBe(200);
      await platform.pool.query('update api_keys set revoked_at = now() where id = $1', [
        tenant.keyId,
      ]);
      // No admin route ran in this process, so only the trigger's NOTIFY tells it; that
      // arrives on its own connection, a few milliseconds after the commit.
      const started = Date.now();
      let res = await api.get('/v1/sessions').set(as);
      while (res.status === 200 && Date.now() - started < 1000) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        res = await api.get('/v1/sessions').set(as);
      }
      expectError(res, 401, 'unauthorized');
      expect(Date.now() - started).toBeLessThan(500);
    });

    it('anonymous callers act in the default tenant', async () => {
      const res = await api.get(`/v1/runs/${runId}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(runId);
    });
  });

  describe('request ids and prefixes', () => {
    it('echoes X-Request-ID, on success and in errors', async () => {
      const ok = await api.get('/v1/models').set(auth).set('X-Request-ID', 'req-abc.123');
      expect(ok.status).toBe(200);
      expect(ok.headers['x-request-id']).toBe('req-abc.123');
      const bad = await api.get('/v1/sessions/nope').set(auth).set('X-Request-ID', 'req-err-1');
      expect(expectError(bad, 400, 'invalid_request').request_id).toBe('req-err-1');
    });

    it('generates a request id when none (or an unsafe one) is given', async () => {
      const a = await api.get('/v1/models').set(auth);
      const b = await api.get('/v1/models').set(auth);
      expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(b.headers['x-request-id']).not.toBe(a.headers['x-request-id']);
      const unsafe = await api
        .get('/v1/models')
        .set(auth)
        .set('X-Request-ID', 'has spaces <script>');
      expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const health = await api.get('/health');
      expect(health.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('serves the same routes under /api/v1', async () => {
      const models = await api.get('/api/v1/models').set(auth);
      expect(models.status).toBe(200);
      expect(models.body.data.map((m: { id: string }) => m.id)).toContain('simulator');
      const created = await api.post('/api/v1/sessions').set(auth).send({ title: 'via api/v1' });
      expect(created.status).toBe(201);
      const got = await api.get(`/v1/sessions/${created.body.id}`).set(auth);
      expect(got.body.title).toBe('via api/v1');
      expectError(await api.get('/api/v1/sessions/nope').set(auth), 400, 'invalid_request');
      expectError(
        await api.get('/api/v1/sessions').set('Authorization', 'Bearer wrong'),
        401,
        'unauthorized',
      );
    });

    it('answers an unsupported method on a known route in the contract shape', async () => {
      const res = await api.put('/v1/sessions').set(auth).send({});
      const error = expectError(res, 405, 'method_not_allowed');
      expect(res.headers.allow).toContain('POST');
      expect((error.details as { allowed: string[] }).allowed).toEqual(
        expect.arrayContaining(['GET', 'POST']),
      );
    });
  });

  describe('health and metrics', () => {
    it('GET /health is 200', async () => {
      const res = await api.get('/health');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /health/ready is 200 with every check', async () => {
      const res = await api.get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ready');
      expect(res.body.checks.map((c: { name: string }) => c.name).sort()).toEqual([
        'blob_store',
        'postgres',
        'temporal',
      ]);
      for (const c of res.body.checks)
        expect(c).toMatchObject({ ok: true, latency_ms: expect.any(Number) });
    });

    it('GET /metrics is Prometheus text with the request histogram', async () => {
      await api.get('/v1/models').set(auth);
      const res = await api.get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toContain('# TYPE reverie_http_request_duration_seconds histogram');
      expect(res.text).toMatch(
        /reverie_http_request_duration_seconds_count\{[^}]*route="\/v1\/models"[^}]*\} \d+/,
      );
    });
  });
});

describe('readiness with a failed dependency', () => {
  let dir: string;
  let api: RunningApi | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reverie-ready-'));
  });
  afterAll(async () => {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is 503 naming the blob store when its directory cannot be created', async () => {
    // A regular file where the blob directory's parent should be: mkdir fails with ENOTDIR.
    const file = path.join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const config = loadConfig(await platformEnv({ BLOB_DIR: path.join(file, 'blobs') }), false);
    api = await startApi(config, testLogger('api-errors'));
    const res = await request(api.url).get('/health/ready');
    const error = expectError(res, 503, 'unavailable');
    expect(error.message).toContain('blob_store');
    expect(error.message).not.toContain('postgres');
    const checks = (error.details as { checks: { name: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.name === 'blob_store')?.ok).toBe(false);
    expect(checks.find((c) => c.name === 'postgres')?.ok).toBe(true);
    // Liveness does not depend on it.
    expect((await request(api.url).get('/health')).status).toBe(200);
  });

  it('is 503 naming Postgres or Temporal when they are unreachable', async () => {
    const config = loadConfig(await platformEnv(), false);
    const deadPool = createPool('postgres://postgres@127.0.0.1:1/none', 1);
    const deps = {
      config,
      pool: deadPool,
      checkTemporal: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
      metrics: new ApiMetrics(),
      log: testLogger('api-errors'),
      checkBlobStore: () => Promise.resolve(),
    } as unknown as ApiDeps;
    try {
      const res = await request(createApp(deps).callback()).get('/health/ready');
      const error = expectError(res, 503, 'unavailable');
      expect(error.message).toContain('postgres');
      expect(error.message).toContain('temporal');
      expect(error.message).not.toContain('blob_store');
      const failed = (
        error.details as { checks: { name: string; ok: boolean; error?: string }[] }
      ).checks.filter((c) => !c.ok);
      expect(failed.map((c) => c.name).sort()).toEqual(['postgres', 'temporal']);
      for (const c of failed) expect(c.error).toEqual(expect.any(String));
    } finally {
      await deadPool.end();
    }
  });
});
