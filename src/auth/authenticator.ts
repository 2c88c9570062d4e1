import { createHash, timingSafeEqual } from 'node:crypto';
import { DEFAULT_TENANT_ID, type Config } from '../config';
import { SCOPES, SECURITY_CHANNEL } from '../db/api-keys';
import type { Pool } from '../db/pool';
import { InvalidRequestError, NotFoundError, UnauthorizedError } from '../errors';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import { JwtVerifier, looksLikeJwt } from './jwt-verifier';
import { KeyCache } from './key-cache';
import { LastUsedRecorder } from './last-used';
import type { Principal } from './principal';
import { TenantCache } from './tenant-cache';

/** Scopes of the anonymous caller: what the seeds let anonymous users do (chat with files and memory), never dreaming or admin. */
export const ANONYMOUS_SCOPES = ['chat', 'files', 'memories'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The parts of a request that identify its caller. */
export interface Credentials {
  authorization: string;
  tenantHeader: string;
  ip: string;
}

/**
 * Turns a request's credentials into a {@link Principal}: API keys (cached,
 * revocation heard over LISTEN/NOTIFY), the bootstrap `ADMIN_TOKEN`, JWTs of
 * the configured issuer, or anonymous when allowed. A presented credential
 * that is not valid is always 401, never a fall-back to anonymous.
 */
export class Authenticator {
  readonly keys: KeyCache;
  readonly tenants: TenantCache;
  readonly lastUsed: LastUsedRecorder;
  private readonly jwt: JwtVerifier | undefined;
  private readonly adminTokenHash: Buffer | undefined;

  constructor(
    pool: Pool,
    private readonly config: Config,
    log: Logger,
  ) {
    this.keys = new KeyCache(pool);
    this.tenants = new TenantCache(pool);
    this.lastUsed = new LastUsedRecorder(pool, config.security.lastUsedFlushMs, log);
    this.jwt = config.security.jwt ? new JwtVerifier(config.security.jwt) : undefined;
    const token = config.security.adminToken;
    this.adminTokenHash = token ? createHash('sha256').update(token).digest() : undefined;
  }

  /** Hear key and tenant changes from every process (on the hub's one LISTEN connection). */
  listen(hub: Pick<EventHub, 'onNotice'>): void {
    hub.onNotice(SECURITY_CHANNEL, (payload) => {
      if (payload === undefined) {
        this.keys.invalidate();
        this.tenants.invalidate();
      } else if (payload.startsWith('key:')) this.keys.invalidate(payload.slice(4));
      else if (payload.startsWith('tenant:')) this.tenants.invalidate(payload.slice(7));
    });
  }

  /**
   * @throws UnauthorizedError for a missing (when anonymous is off) or invalid credential
   * @throws NotFoundError / InvalidRequestError for an admin's bad `X-Tenant-Id`
   */
  async authenticate(creds: Credentials): Promise<Principal> {
    if (!creds.authorization) {
      if (!this.config.allowAnonymous) throw new UnauthorizedError();
      return {
        kind: 'anonymous',
        tenantId: DEFAULT_TENANT_ID,
        scopes: ANONYMOUS_SCOPES,
        keyId: null,
        userId: null,
        tier: 'anonymous',
        limits: {},
        subject: `ip:${creds.ip}`,
      };
    }
    const match = /^Bearer +(\S+)$/i.exec(creds.authorization);
    if (!match) throw new UnauthorizedError('Authorization must be "Bearer <api key>"');
    const token = match[1];
    const principal = this.isAdminToken(token)
      ? this.adminPrincipal()
      : this.jwt && looksLikeJwt(token)
        ? await this.jwtPrincipal(token)
        : await this.keyPrincipal(token);
    if (creds.tenantHeader && principal.scopes.includes('admin'))
      return this.actingFor(principal, creds.tenantHeader);
    return principal;
  }

  private isAdminToken(token: string): boolean {
    if (!this.adminTokenHash) return false;
    return timingSafeEqual(createHash('sha256').update(token).digest(), this.adminTokenHash);
  }

  private adminPrincipal(): Principal {
    return {
      kind: 'admin_token',
      tenantId: DEFAULT_TENANT_ID,
      scopes: SCOPES,
      keyId: null,
      userId: null,
      tier: 'admin',
      limits: {},
      subject: 'admin',
    };
  }

  private async keyPrincipal(token: string): Promise<Principal> {
    // Keys are `rv_...`; anything else cannot match a stored hash, so skip the lookup.
    const key =
      token.startsWith('rv_') && token.length <= 200 ? await this.keys.lookup(token) : undefined;
    if (!key) throw new UnauthorizedError('invalid API key');
    if (key.expires_at && key.expires_at.getTime() <= Date.now())
      throw new UnauthorizedError('API key expired');
    this.lastUsed.record(key.id);
    const policy = await this.tenants.get(key.tenant_id);
    return {
      kind: 'key',
      tenantId: key.tenant_id,
      scopes: key.scopes,
      keyId: key.id,
      userId: null,
      tier: policy?.tier ?? 'free',
      limits: policy?.limits ?? {},
      subject: `key:${key.id}`,
    };
  }

  private async jwtPrincipal(token: string): Promise<Principal> {
    const identity = await this.jwt!.verify(token);
    const policy = UUID.test(identity.tenantId)
      ? await this.tenants.get(identity.tenantId)
      : undefined;
    if (!policy) throw new UnauthorizedError('the token names an unknown tenant');
    return {
      kind: 'jwt',
      tenantId: identity.tenantId,
      scopes: identity.scopes,
      keyId: null,
      userId: identity.userId,
      tier: policy.tier,
      limits: policy.limits,
      subject: `jwt:${identity.tenantId}:${identity.userId}`,
    };
  }

  /** An admin acting for another tenant (`X-Tenant-Id`). */
  private async actingFor(admin: Principal, tenantHeader: string): Promise<Principal> {
    if (!UUID.test(tenantHeader)) throw new InvalidRequestError('X-Tenant-Id must be a UUID');
    const tenantId = tenantHeader.toLowerCase();
    const policy = await this.tenants.get(tenantId);
    if (!policy) throw new NotFoundError('tenant');
    return { ...admin, tenantId };
  }
}
