import type { TenantLimits } from '../db/tenants';

/** How the caller proved who it is. */
export type PrincipalKind = 'key' | 'admin_token' | 'jwt' | 'anonymous';

/**
 * The authenticated caller of one request: which tenant it acts in, what it
 * may do, and under which identity its requests are counted for rate limits.
 */
export interface Principal {
  kind: PrincipalKind;
  tenantId: string;
  scopes: readonly string[];
  /** The API key's id (kind `key`), else null. */
  keyId: string | null;
  /** The end user fixed by the credential (a JWT's `sub`), else null. */
  userId: string | null;
  /** `anonymous` for anonymous callers, else the tenant's tier. */
  tier: string;
  /** The tenant's own limit overrides. */
  limits: TenantLimits;
  /** Rate-limit identity: `key:<id>`, `jwt:<sub>`, `ip:<address>` or `admin`. */
  subject: string;
}

/** Whether the principal holds `scope` (`admin` holds every scope). */
export function hasScope(principal: Pick<Principal, 'scopes'>, scope: string): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes('admin');
}
