import type Koa from 'koa';
import { DEFAULT_TENANT_ID } from '../../config';
import { hashApiKey } from '../../db/api-keys';
import type { Pool } from '../../db/pool';
import { maybeOne } from '../../db/sql';
import { UnauthorizedError } from '../../errors';

export interface Principal {
  tenantId: string;
  scopes: string[];
  keyId: string | null;
}

/**
 * Resolve the caller's tenant from `Authorization: Bearer <key>`. A presented
 * key that is not valid is always 401, never a fall-back to anonymous.
 */
export function authenticate(pool: Pool, allowAnonymous: boolean) {
  return async function authenticateMiddleware(ctx: Koa.Context, next: Koa.Next) {
    const header = ctx.get('Authorization');
    let principal: Principal;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new UnauthorizedError('Authorization must be "Bearer <api key>"');
      const key = await maybeOne<{ id: string; tenant_id: string; scopes: string[] }>(
        pool,
        'select id, tenant_id, scopes from api_keys where key_hash = $1 and revoked_at is null',
        [hashApiKey(match[1])],
      );
      if (!key) throw new UnauthorizedError('invalid API key');
      principal = { tenantId: key.tenant_id, scopes: key.scopes, keyId: key.id };
    } else if (allowAnonymous) {
      principal = { tenantId: DEFAULT_TENANT_ID, scopes: ['chat', 'files'], keyId: null };
    } else {
      throw new UnauthorizedError();
    }
    ctx.state.principal = principal;
    await next();
  };
}
