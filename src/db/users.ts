import type { Queryable } from './pool';

/** Record that a user of the tenant acted now (created on first sight). */
export async function touchUser(db: Queryable, tenantId: string, userId: string): Promise<void> {
  await db.query(
    `insert into users (tenant_id, id) values ($1, $2)
     on conflict (tenant_id, id) do update set last_seen_at = now()`,
    [tenantId, userId],
  );
}
