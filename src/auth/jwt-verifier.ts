import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { SCOPES } from '../db/api-keys';
import { UnauthorizedError, UnavailableError } from '../errors';

export interface JwtConfig {
  issuer: string;
  /** Where the signing keys are; discovered from the issuer's metadata when unset. */
  jwksUrl?: string;
  audience?: string;
  /** Claim holding the tenant id. */
  tenantClaim: string;
  clockSkewSeconds: number;
}

/** What a verified token says about its caller. */
export interface JwtIdentity {
  tenantId: string;
  userId: string;
  scopes: string[];
}

/** Whether a bearer credential is shaped like a JWT (three base64url parts). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/**
 * Verifies bearer JWTs from one OIDC issuer: signature against the issuer's
 * JWKS (jose caches it and refetches on an unknown `kid`), `iss`, `aud`,
 * `exp`/`nbf` with the configured clock skew. Claims map to tenant
 * (`tenantClaim`), user (`sub`) and scopes (`scope` string or `scp` array).
 */
export class JwtVerifier {
  private jwks: Promise<JWTVerifyGetKey> | undefined;

  constructor(private readonly config: JwtConfig) {}

  /**
   * @throws UnauthorizedError for any token that does not verify or lacks claims
   * @throws UnavailableError when the issuer's metadata or keys cannot be fetched
   */
  async verify(token: string): Promise<JwtIdentity> {
    let payload: JWTPayload;
    try {
      payload = (
        await jwtVerify(token, await this.keys(), {
          issuer: this.config.issuer,
          audience: this.config.audience,
          clockTolerance: this.config.clockSkewSeconds,
        })
      ).payload;
    } catch (err) {
      if (err instanceof errors.JWKSTimeout || err instanceof UnavailableError) {
        throw new UnavailableError('the token issuer cannot be reached', undefined, err);
      }
      if (err instanceof errors.JOSEError || err instanceof TypeError)
        throw new UnauthorizedError(`invalid token: ${describe(err)}`);
      throw err;
    }
    const tenantId = payload[this.config.tenantClaim];
    if (typeof tenantId !== 'string' || !payload.sub)
      throw new UnauthorizedError(`token lacks the "sub" or "${this.config.tenantClaim}" claim`);
    return { tenantId: tenantId.toLowerCase(), userId: payload.sub, scopes: scopesOf(payload) };
  }

  private keys(): Promise<JWTVerifyGetKey> {
    this.jwks ??= this.discover().then((url) => createRemoteJWKSet(new URL(url)));
    // A failed discovery is retried by the next request, not remembered.
    this.jwks.catch(() => (this.jwks = undefined));
    return this.jwks;
  }

  private async discover(): Promise<string> {
    if (this.config.jwksUrl) return this.config.jwksUrl;
    const url = `${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      const meta = (await res.json()) as { jwks_uri?: unknown };
      if (typeof meta.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
      return meta.jwks_uri;
    } catch (err) {
      throw new UnavailableError(
        'the token issuer cannot be reached',
        { issuer: this.config.issuer },
        err,
      );
    }
  }
}

function scopesOf(payload: JWTPayload): string[] {
  const raw = payload.scope ?? payload.scp;
  const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw : [];
  return list.filter((s): s is string => (SCOPES as readonly unknown[]).includes(s));
}

function describe(err: Error): string {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown signing key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim "${err.claim}" is not valid`;
  return 'malformed';
}
