import { randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

/** A tenant's own limits; each field overrides its tier's. */
export interface TenantLimits {
  rps?: number;
  burst?: number;
  max_concurrent_turns?: number;
}

export interface TenantRow {
  id: string;
  name: string;
  tier: string;
  limits: TenantLimits;
  webhook_url: string | null;
  webhook_secret: string | null;
  created_at: Date;
}

const COLUMNS = 'id, name, tier, limits, webhook_url, webhook_secret, created_at';

/** A fresh webhook signing secret (`whsec_` + 32 random bytes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function insertTenant(
  db: Queryable,
  input: { name: string; tier: string },
): Promise<TenantRow> {
  return one<TenantRow>(
    db,
    `insert into tenants (id, name, tier, webhook_secret) values ($1, $2, $3, $4) returning ${COLUMNS}`,
    [randomUUID(), input.name, input.tier, newWebhookSecret()],
  );
}

export function getTenant(db: Queryable, id: string): Promise<TenantRow | undefined> {
  return maybeOne<TenantRow>(db, `select ${COLUMNS} from tenants where id = $1`, [id]);
}

export function listTenants(
  db: Queryable,
  options: { limit: number; before?: { createdAt: string; id: string } },
): Promise<TenantRow[]> {
  return many<TenantRow>(
    db,
    `select ${COLUMNS} from tenants
     where ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
     order by created_at desc, id desc limit $3`,
    [options.before?.createdAt ?? null, options.before?.id ?? null, options.limit],
  );
}

/**
 * Change a tenant; every API process drops its cached tier and limits on commit
 * (the table's trigger NOTIFYs).
 * `limits` replaces the stored limits; `webhook_url: null` clears it.
 */
export function updateTenant(
  db: Queryable,
  id: string,
  change: {
    tier?: string;
    limits?: TenantLimits;
    webhook_url?: string | null;
    webhook_secret?: string;
  },
): Promise<TenantRow | undefined> {
  return maybeOne<TenantRow>(
    db,
    `update tenants set
         tier = coalesce($2, tier),
         limits = coalesce($3::jsonb, limits),
         webhook_url = case when $4::boolean then $5 else webhook_url end,
         webhook_secret = coalesce($6, webhook_secret)
       where id = $1 returning ${COLUMNS}`,
    [
      id,
      change.tier ?? null,
      change.limits ? JSON.stringify(change.limits) : null,
      change.webhook_url !== undefined,
      change.webhook_url ?? null,
      change.webhook_secret ?? null,
    ],
  );
}
