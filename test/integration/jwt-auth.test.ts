import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import request from 'supertest';
import { startPlatform, type Platform } from '../helpers/platform';
import { registerJwt } from '../helpers/test-secrets';

/** JWT bearer tokens from an OIDC issuer the test serves (discovery + JWKS). */
describe('JWT bearer tokens', () => {
  let platform: Platform;
  let issuerServer: http.Server;
  let issuer: string;
  let signing: KeyLike;
  let stranger: KeyLike;
  let tenantId: string;
  let discoveries = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signing = pair.privateKey;
    stranger = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    issuerServer = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        discoveries++;
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      } else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
    platform = await startPlatform({
      AUTH_JWT_ISSUER: issuer,
      AUTH_JWT_AUDIENCE: 'reverie',
      AUTH_JWT_TENANT_CLAIM: 'org',
      AUTH_JWT_CLOCK_SKEW_S: '30',
    });
    tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [tenantId, 'jwt']);
  });
  afterAll(async () => {
    await platform?.close();
    issuerServer?.close();
  });

  const token = (
    overrides: { aud?: string; iss?: string; exp?: number; kid?: string; key?: KeyLike } = {},
    claims: Record<string, unknown> = { scope: 'chat files', org: tenantId },
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: overrides.kid ?? 'k1' })
      .setSubject('alice@example.com')
      .setIssuer(overrides.iss ?? issuer)
      .setAudience(overrides.aud ?? 'reverie')
      .setIssuedAt()
      .setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(overrides.key ?? signing)
      .then(registerJwt);

  const get = async (jwt: string, path = '/v1/sessions') =>
    request(platform.url).get(path).set('Authorization', `Bearer ${jwt}`);

  it('accepts a valid token: tenant from the claim, user from sub, scopes from scope', async () => {
    expect((await get(await token())).status).toBe(200);
    const created = await request(platform.url)
      .post('/v1/sessions')
      .set('Authorization', `Bearer ${await token()}`)
      .set('X-User-Id', 'mallory')
      .send({});
    expect(created.status).toBe(201);
    expect(created.body.user_id).toBe('alice@example.com');
    const row = await platform.pool.query('select tenant_id from sessions where id = $1', [
      created.body.id,
    ]);
    expect(row.rows[0].tenant_id).toBe(tenantId);
    expect(discoveries).toBe(1);
  });

  it('honours the scopes: scp arrays too, and 403 outside them', async () => {
    const filesOnly = await token({}, { scp: ['files'], org: tenantId });
    expect((await get(filesOnly, '/v1/files')).status).toBe(200);
    const res = await get(filesOnly, '/v1/sessions');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('accepts a token expired within the clock skew', async () => {
    expect((await get(await token({ exp: Math.floor(Date.now() / 1000) - 10 }))).status).toBe(200);
  });

  it.each([
    ['expired', () => token({ exp: Math.floor(Date.now() / 1000) - 120 })],
    ['wrong audience', () => token({ aud: 'someone-else' })],
    ['wrong issuer', () => token({ iss: 'https://evil.example.com' })],
    ['bad signature', () => token({ key: stranger })],
    ['unknown kid', () => token({ kid: 'k9', key: stranger })],
    ['unknown tenant', () => token({}, { scope: 'chat', org: randomUUID() })],
    ['no tenant claim', () => token({}, { scope: 'chat' })],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await token()).split('.');
        const forged = Buffer.from(
          JSON.stringify({ sub: 'root', org: tenantId, scope: 'admin' }),
        ).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
    ],
  ])('is 401 for a token with %s', async (_name, make) => {
    const res = await get(await make());
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });
});
