import type { Queryable } from './pool';
import { one } from './sql';

/** Turn runs of one user of a tenant that are queued or running now. */
export async function countActiveTurns(
  db: Queryable,
  tenantId: string,
  userId: string | null,
): Promise<number> {
  const row = await one<{ n: number }>(
    db,
    `select count(*)::int as n from runs
     where tenant_id = $1 and kind = 'turn' and status in ('queued', 'running')
       and user_id is not distinct from $2`,
    [tenantId, userId],
  );
  return row.n;
}
