import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import {
  platformEnv,
  spawnReverie,
  startPlatform,
  type Platform,
  type ReverieProcess,
} from '../helpers/platform';
import { appendToLog, cliLogEnv } from '../helpers/test-logs';
import { registerShown } from '../helpers/test-secrets';
import { PROJECT_ROOT } from '../setup/stack-env';

const run = promisify(execFile);
const KEY_FORMAT = /^rv_[0-9a-f]{8}_[A-Za-z0-9_-]{32}$/;

/** API keys and tenants through `/v1/admin` (API.md "Security and limits"). */
describe('admin: API keys and tenants', () => {
  let platform: Platform;
  let replica: ReverieProcess;
  let admin: string;
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    const env = await platformEnv({ KEY_LAST_USED_FLUSH_MS: '200' });
    platform = await startPlatform({ KEY_LAST_USED_FLUSH_MS: '200', ADMIN_TOKEN: env.ADMIN_TOKEN });
    admin = platform.config.security.adminToken!;
    replica = await spawnReverie('api', env);
  });
  afterAll(async () => {
    await replica?.kill();
    await platform?.close();
  });

  const newTenant = async (tier?: string) => {
    const res = await request(platform.url)
      .post('/v1/admin/tenants')
      .set(bearer(admin))
      .send({ name: 'acme', ...(tier ? { tier } : {}) });
    expect(res.status).toBe(201);
    return registerShown(res.body as { id: string; tier: string; webhook_secret: string });
  };
  const newKey = async (tenantId: string, extra: Record<string, unknown> = {}) => {
    const res = await request(platform.url)
      .post('/v1/admin/api-keys')
      .set(bearer(admin))
      .send({ tenant_id: tenantId, name: 'ci', scopes: ['chat'], ...extra });
    expect(res.status).toBe(201);
    return registerShown(res.body as { id: string; key: string; prefix: string });
  };

  it('creates a tenant with a tier, limits and a webhook secret; reads, patches and rotates it', async () => {
    const tenant = await newTenant('pro');
    expect(tenant).toMatchObject({ tier: 'pro', limits: {}, webhook_url: null });
    expect(tenant.webhook_secret).toMatch(/^whsec_/);
    const patched = await request(platform.url)
      .patch(`/v1/admin/tenants/${tenant.id}`)
      .set(bearer(admin))
      .send({
        tier: 'enterprise',
        limits: { rps: 5, burst: 10, max_concurrent_turns: 2 },
        webhook_url: 'https://example.com/hook',
      });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      tier: 'enterprise',
      limits: { rps: 5, burst: 10, max_concurrent_turns: 2 },
      webhook_url: 'https://example.com/hook',
    });
    const rotated = await request(platform.url)
      .post(`/v1/admin/tenants/${tenant.id}/webhook-secret`)
      .set(bearer(admin));
    registerShown(rotated.body);
    expect(rotated.body.webhook_secret).toMatch(/^whsec_/);
    expect(rotated.body.webhook_secret).not.toBe(tenant.webhook_secret);
    const got = await request(platform.url)
      .get(`/v1/admin/tenants/${tenant.id}`)
      .set(bearer(admin));
    expect(got.body.webhook_secret).toBe(rotated.body.webhook_secret);
    const list = await request(platform.url).get('/v1/admin/tenants?limit=1').set(bearer(admin));
    expect(list.body.data).toHaveLength(1);
    expect(typeof list.body.next_cursor).toBe('string');
    expect(
      (
        await request(platform.url)
          .get(`/v1/admin/tenants/${crypto.randomUUID()}`)
          .set(bearer(admin))
      ).status,
    ).toBe(404);
    expect(
      (
        await request(platform.url)
          .patch(`/v1/admin/tenants/${tenant.id}`)
          .set(bearer(admin))
          .send({ tier: 'gold' })
      ).status,
    ).toBe(400);
  });

  it('shows a key once, stores only its hash, lists it without the key and records its last use', async () => {
    const tenant = await newTenant();
    const created = await newKey(tenant.id, { scopes: ['chat', 'files'] });
    expect(created.key).toMatch(KEY_FORMAT);
    expect(created.key.startsWith(`rv_${created.prefix}_`)).toBe(true);
    expect(Object.keys(created).sort()).toEqual(
      [
        'created_at',
        'expires_at',
        'id',
        'key',
        'name',
        'object',
        'prefix',
        'scopes',
        'tenant_id',
      ].sort(),
    );
    const stored = await platform.pool.query('select * from api_keys where id = $1', [created.id]);
    expect(JSON.stringify(stored.rows[0])).not.toContain(created.key.slice(12));
    expect((await request(platform.url).get('/v1/sessions').set(bearer(created.key))).status).toBe(
      200,
    );

    await new Promise((r) => setTimeout(r, 600));
    const list = await request(platform.url)
      .get(`/v1/admin/api-keys?tenant_id=${tenant.id}`)
      .set(bearer(admin));
    expect(list.status).toBe(200);
    expect(list.body.next_cursor).toBeNull();
    expect(list.body.data).toHaveLength(1);
    const [row] = list.body.data;
    expect(row).toMatchObject({
      id: created.id,
      prefix: created.prefix,
      scopes: ['chat', 'files'],
      revoked_at: null,
    });
    expect(row.key).toBeUndefined();
    expect(typeof row.last_used_at).toBe('string');
  });

  it('refuses a revoked key at once on every replica, though both had it cached', async () => {
    const tenant = await newTenant();
    const { id, key } = await newKey(tenant.id);
    expect((await request(platform.url).get('/v1/sessions').set(bearer(key))).status).toBe(200);
    expect((await request(replica.url!).get('/v1/sessions').set(bearer(key))).status).toBe(200);
    const revoked = await request(platform.url)
      .delete(`/v1/admin/api-keys/${id}`)
      .set(bearer(admin));
    expect(revoked.status).toBe(200);
    expect(typeof revoked.body.revoked_at).toBe('string');
    expect((await request(platform.url).get('/v1/sessions').set(bearer(key))).status).toBe(401);
    // The replica hears the NOTIFY within milliseconds; no TTL is involved.
    const started = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - started < 1000) {
      status = (await request(replica.url!).get('/v1/sessions').set(bearer(key))).status;
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(500);
    expect(
      (
        await request(platform.url)
          .delete(`/v1/admin/api-keys/${crypto.randomUUID()}`)
          .set(bearer(admin))
      ).status,
    ).toBe(404);
  });

  it('refuses a key after its expiry', async () => {
    const tenant = await newTenant();
    const { key } = await newKey(tenant.id, {
      expires_at: new Date(Date.now() + 1500).toISOString(),
    });
    expect((await request(platform.url).get('/v1/sessions').set(bearer(key))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1700));
    const res = await request(platform.url).get('/v1/sessions').set(bearer(key));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('expired');
  });

  it('honours X-Tenant-Id for admin credentials only', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const { key } = await newKey(a.id);
    const mine = await request(platform.url)
      .post('/v1/sessions')
      .set(bearer(key))
      .set('X-Tenant-Id', b.id)
      .send({});
    expect(mine.status).toBe(201);
    const asAdmin = await request(platform.url)
      .post('/v1/sessions')
      .set(bearer(admin))
      .set('X-Tenant-Id', b.id)
      .send({});
    expect(asAdmin.status).toBe(201);
    const owners = await platform.pool.query<{ id: string; tenant_id: string }>(
      'select id, tenant_id from sessions where id = any($1::uuid[])',
      [[mine.body.id, asAdmin.body.id]],
    );
    const owner = Object.fromEntries(owners.rows.map((r) => [r.id, r.tenant_id]));
    expect(owner[mine.body.id]).toBe(a.id);
    expect(owner[asAdmin.body.id]).toBe(b.id);
    expect(
      (
        await request(platform.url)
          .get('/v1/sessions')
          .set(bearer(admin))
          .set('X-Tenant-Id', crypto.randomUUID())
      ).status,
    ).toBe(404);
  });

  it('refuses admin routes to keys without the admin scope, and bad credentials with 401', async () => {
    const tenant = await newTenant();
    const { key } = await newKey(tenant.id);
    const res = await request(platform.url).get('/v1/admin/api-keys').set(bearer(key));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(
      (await request(platform.url).get('/v1/admin/api-keys').set(bearer('rv_nope'))).status,
    ).toBe(401);
    expect(
      (
        await request(platform.url)
          .get('/v1/admin/api-keys')
          .set(bearer(`${admin}x`))
      ).status,
    ).toBe(401);
  });

  it('reverie keys create | list | revoke', async () => {
    const tenant = await newTenant();
    const reverie = async (args: string[]) => {
      const logs = cliLogEnv('keys');
      const result = await run(
        process.execPath,
        [path.join(PROJECT_ROOT, 'bin', 'reverie.js'), 'keys', ...args],
        {
          cwd: PROJECT_ROOT,
          env: { ...process.env, REVERIE_URL: platform.url, ADMIN_TOKEN: admin, ...logs },
        },
      );
      appendToLog(logs.LOG_FILE, result.stderr);
      return result;
    };
    const created = JSON.parse(
      (
        await reverie([
          'create',
          '--tenant',
          tenant.id,
          '--name',
          'cli',
          '--scopes',
          'chat,files',
          '--json',
        ])
      ).stdout,
    ) as { id: string; key: string };
    registerShown(created);
    expect(created.key).toMatch(KEY_FORMAT);
    const listed = (await reverie(['list', '--tenant', tenant.id])).stdout;
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(created.key);
    expect((await reverie(['revoke', created.id])).stdout).toContain('revoked');
    expect((await request(platform.url).get('/v1/sessions').set(bearer(created.key))).status).toBe(
      401,
    );
  });
});
