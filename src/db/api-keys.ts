import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from './pool';

/** sha256 of an API key: the only form in which keys are stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Create an API key for a tenant.
 * @returns the key in clear text: shown once, stored only as its hash.
 */
export async function createApiKey(
  db: Queryable,
  tenantId: string,
  options: { name?: string; scopes?: string[] } = {},
): Promise<{ id: string; key: string }> {
  const key = `rv_${randomBytes(24).toString('base64url')}`;
  const id = randomUUID();
  await db.query(
    'insert into api_keys (id, tenant_id, name, key_hash, prefix, scopes) values ($1, $2, $3, $4, $5, $6)',
    [
      id,
      tenantId,
      options.name ?? '',
      hashApiKey(key),
      key.slice(0, 7),
      options.scopes ?? ['chat', 'files'],
    ],
  );
  return { id, key };
}
