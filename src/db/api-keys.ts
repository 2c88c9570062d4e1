import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

/** Every scope a key can carry (API.md "Security and limits"). */
export const SCOPES = ['chat', 'files', 'memories', 'dreaming', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a key gets when its creator names no scopes: everything but `admin`. */
export const DEFAULT_SCOPES: Scope[] = ['chat', 'files', 'memories', 'dreaming'];

/** Channel on which key revocations (and other security changes) reach every API process. */
export const SECURITY_CHANNEL = 'reverie_security';

/** sha256 of an API key: the only form in which keys are stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS =
  'id, tenant_id, name, prefix, scopes, created_at, last_used_at, revoked_at, expires_at';

/**
 * Create an API key for a tenant: `rv_<prefix>_<secret>`, the prefix (8 hex
 * characters) kept to recognise the key in listings.
 * @returns the row and the key in clear text: shown once, stored only as its hash.
 */
export async function createApiKey(
  db: Queryable,
  tenantId: string,
  options: { name?: string; scopes?: readonly string[]; expiresAt?: Date | null } = {},
): Promise<{ id: string; key: string; row: ApiKeyRow }> {
  const prefix = randomBytes(4).toString('hex');
  const key = `rv_${prefix}_${randomBytes(24).toString('base64url')}`;
  const row = await one<ApiKeyRow>(
    db,
    `insert into api_keys (id, tenant_id, name, key_hash, prefix, scopes, expires_at)
     values ($1, $2, $3, $4, $5, $6::text[], $7) returning ${COLUMNS}`,
    [
      randomUUID(),
      tenantId,
      options.name ?? '',
      hashApiKey(key),
      prefix,
      options.scopes ?? DEFAULT_SCOPES,
      options.expiresAt ?? null,
    ],
  );
  return { id: row.id, key, row };
}

/** The live (not revoked) key with this hash, if any; expiry is the caller's to check. */
export function findApiKeyByHash(db: Queryable, hash: string): Promise<ApiKeyRow | undefined> {
  return maybeOne<ApiKeyRow>(
    db,
    `select ${COLUMNS} from api_keys where key_hash = $1 and revoked_at is null`,
    [hash],
  );
}

/** A page of keys, newest first, optionally of one tenant; `before` is a keyset cursor. */
export function listApiKeys(
  db: Queryable,
  options: { tenantId?: string; limit: number; before?: { createdAt: string; id: string } },
): Promise<ApiKeyRow[]> {
  return many<ApiKeyRow>(
    db,
    `select ${COLUMNS} from api_keys
     where ($1::uuid is null or tenant_id = $1)
       and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid))
     order by created_at desc, id desc limit $4`,
    [
      options.tenantId ?? null,
      options.before?.createdAt ?? null,
      options.before?.id ?? null,
      options.limit,
    ],
  );
}

/**
 * Revoke a key; every API process hears it on commit (a trigger NOTIFYs), so
 * no replica serves it from its cache.
 * @returns the revoked row, or undefined when no such key exists.
 */
export function revokeApiKey(db: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  // The table's trigger sends the `key:<id>` notice (migration 0007).
  return maybeOne<ApiKeyRow>(
    db,
    `update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${COLUMNS}`,
    [id],
  );
}

/** Record when keys were last used: one set-based update for a whole batch. */
export async function touchApiKeys(db: Queryable, used: Map<string, Date>): Promise<void> {
  if (used.size === 0) return;
  await db.query(
    `update api_keys k set last_used_at = greatest(k.last_used_at, u.at)
     from unnest($1::uuid[], $2::timestamptz[]) as u(id, at) where k.id = u.id`,
    [[...used.keys()], [...used.values()]],
  );
}
