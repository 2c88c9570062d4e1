import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { platformEnv, spawnReverie, startPlatform, type Platform } from '../helpers/platform';
import { registerShown } from '../helpers/test-secrets';

const ORIGIN = 'https://app.example.com';

/** CORS from configuration, security headers on every response, no secret in any log line. */
describe('HTTP hardening', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform({ CORS_ORIGINS: `${ORIGIN}, https://admin.example.com` });
  });
  afterAll(() => platform?.close());

  it('grants a configured origin, never *, and answers preflights', async () => {
    const res = await request(platform.url).get('/v1/sessions').set('Origin', ORIGIN);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['access-control-expose-headers']).toContain('X-Run-Id');
    expect(res.headers.vary).toContain('Origin');
    const preflight = await request(platform.url)
      .options('/v1/chat/completions')
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    expect(preflight.headers['access-control-allow-headers']).toContain('Authorization');
  });

  it('grants nothing to other origins', async () => {
    const res = await request(platform.url)
      .get('/v1/sessions')
      .set('Origin', 'https://evil.example.com');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(platform.url)
      .options('/v1/sessions')
      .set('Origin', 'https://evil.example.com')
      .set('Access-Control-Request-Method', 'DELETE');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
  });

  it.each([
    ['get', '/health'],
    ['get', '/health/ready'],
    ['get', '/v1/sessions'],
    ['get', '/v1/nowhere'],
    ['get', '/v1/openapi.json'],
    ['post', '/v1/sessions'],
  ])('sets security headers on %s %s', async (method, path) => {
    const req = request(platform.url)[method as 'get'](path);
    const res = await (method === 'post'
      ? req.set('Authorization', 'Bearer rv_bad').send({})
      : req);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("frame-ancestors 'none'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('writes no key, admin token or webhook secret in any log line, even at debug', async () => {
    const env = await platformEnv({});
    const api = await spawnReverie('api', env, { logLevel: 'debug' });
    const admin = env.ADMIN_TOKEN;
    const secrets = [admin];
    try {
      const tenant = await request(api.url!)
        .post('/v1/admin/tenants')
        .set('Authorization', `Bearer ${admin}`)
        .send({ name: 'logs' })
        .expect(201);
      registerShown(tenant.body);
      secrets.push(tenant.body.webhook_secret);
      const key = await request(api.url!)
        .post('/v1/admin/api-keys')
        .set('Authorization', `Bearer ${admin}`)
        .send({ tenant_id: tenant.body.id, name: 'logs', scopes: ['chat'] })
        .expect(201);
      registerShown(key.body);
      secrets.push(key.body.key, key.body.key.split('_').slice(2).join('_'));
      await request(api.url!)
        .get('/v1/sessions')
        .set('Authorization', `Bearer ${key.body.key}`)
        .expect(200);
      await request(api.url!)
        .get('/v1/sessions')
        .set('Authorization', `Bearer ${key.body.key}x`)
        .expect(401);
      await request(api.url!)
        .get('/v1/sessions')
        .set('Cookie', `session=${key.body.key}`)
        .set('Authorization', `Bearer ${admin}`)
        .expect(200);
      await request(api.url!)
        .post('/v1/sessions')
        .set('Authorization', `Bearer ${key.body.key}`)
        .send('{"broken": ')
        .set('Content-Type', 'application/json');
      await request(api.url!)
        .delete(`/v1/admin/api-keys/${key.body.id}`)
        .set('Authorization', `Bearer ${admin}`)
        .expect(200);
      await request(api.url!)
        .get(`/v1/runs/${randomUUID()}`)
        .set('Authorization', `Bearer ${key.body.key}`);
    } finally {
      await api.kill('SIGTERM');
    }
    const lines = api.output().split('\n').filter(Boolean);
    expect(lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
    const leaking = lines.filter((line) => secrets.some((s) => line.includes(s)));
    expect(leaking).toEqual([]);
  });
});
