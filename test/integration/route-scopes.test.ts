import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { SCOPES } from '../../src/db/api-keys';
import { createApiKey } from '../helpers/test-secrets';
import { startPlatform, type Platform } from '../helpers/platform';
import { concretePath, registeredRoutes, routeSpecs } from '../helpers/routes';

/**
 * Every route declares its scope next to its definition; walking the routers'
 * stacks, a route registered without one fails here. Then, route by route: a
 * key without the scope is 403 `forbidden`, a key with only that scope is not.
 */
describe('scopes, route by route', () => {
  let platform: Platform;
  let tenantId: string;
  const keys = new Map<string, string>();

  beforeAll(async () => {
    platform = await startPlatform();
    tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
      tenantId,
      'scopes',
    ]);
    for (const scope of SCOPES) {
      keys.set(
        `only:${scope}`,
        (await createApiKey(platform.pool, tenantId, { scopes: [scope] })).key,
      );
      const others = SCOPES.filter((s) => s !== scope && s !== 'admin');
      keys.set(
        `not:${scope}`,
        (await createApiKey(platform.pool, tenantId, { scopes: others })).key,
      );
    }
  });
  afterAll(() => platform?.close());

  it('finds a declared scope on every registered route, and a spec for each', () => {
    const routes = registeredRoutes(platform.config);
    expect(routes.length).toBeGreaterThan(40);
    const undeclared = routes.filter((r) => !r.scope).map((r) => `${r.method} ${r.path}`);
    expect(undeclared).toEqual([]);
    const specs = new Set(routeSpecs(platform.config).map((s) => `${s.method} ${s.path}`));
    expect(routes.filter((r) => !specs.has(`${r.method} ${r.path}`))).toEqual([]);
  });

  const send = (method: string, url: string) => request(platform.url)[method as 'get'](url);
  const scoped = () => routeSpecs(platform.config).filter((s) => s.scope !== 'public');

  it('is 403 forbidden for a key without the route scope', async () => {
    const failures: string[] = [];
    for (const spec of scoped()) {
      const url = concretePath(spec, randomUUID());
      const res = await send(spec.method, url)
        .set('Authorization', `Bearer ${keys.get(`not:${spec.scope}`)}`)
        .send(spec.method === 'get' || spec.method === 'delete' ? undefined : {});
      if (res.status !== 403 || res.body.error?.code !== 'forbidden')
        failures.push(`${spec.method} ${url} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('is not 403 for a key holding just that scope', async () => {
    const failures: string[] = [];
    for (const spec of scoped()) {
      const url = concretePath(spec, randomUUID());
      const res = await send(spec.method, url)
        .set('Authorization', `Bearer ${keys.get(`only:${spec.scope}`)}`)
        .timeout(10_000)
        .send(spec.method === 'get' || spec.method === 'delete' ? undefined : {});
      if (res.status === 403 || res.status >= 500)
        failures.push(`${spec.method} ${url} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('gives the anonymous caller chat, files and memories, never dreaming or admin', async () => {
    const anonymous = async (method: 'get' | 'post', url: string) =>
      (await send(method, url).send(method === 'post' ? {} : undefined)).status;
    expect(await anonymous('get', '/v1/sessions')).toBe(200);
    expect(await anonymous('get', '/v1/files')).toBe(200);
    expect(await anonymous('get', '/v1/memories?user_id=u')).toBe(200);
    expect(await anonymous('get', '/v1/dreaming/schedule')).toBe(403);
    expect(await anonymous('get', '/v1/admin/tenants')).toBe(403);
  });
});
