import type { Queryable } from './pool';
import { one } from './sql';

/**
 * Take a lease on one SSE stream for `subject` unless it holds `cap` live
 * leases already (migration 0009: one call, serialised per subject).
 * @returns whether the lease was taken
 */
export async function acquireSseLease(
  db: Queryable,
  lease: { id: string; subject: string; replica: string; ttlMs: number; cap: number },
): Promise<boolean> {
  const row = await one<{ taken: boolean }>(
    db,
    'select sse_lease_acquire($1::uuid, $2::text, $3::uuid, $4::integer, $5::integer) as taken',
    [lease.id, lease.subject, lease.replica, lease.ttlMs, lease.cap],
  );
  return row.taken;
}

/**
 * Push back the expiry of every lease `replica` holds (one statement whatever
 * their number), and drop leases long expired (replicas that died).
 */
export async function renewSseLeases(db: Queryable, replica: string, ttlMs: number): Promise<void> {
  await db.query(
    `with gone as (
       delete from sse_leases where expires_at < now() - interval '1 minute'
     )
     update sse_leases set expires_at = now() + make_interval(secs => $2::integer / 1000.0)
     where replica = $1::uuid`,
    [replica, ttlMs],
  );
}

/** Give one lease back (the stream closed). */
export async function releaseSseLease(db: Queryable, id: string): Promise<void> {
  await db.query('delete from sse_leases where id = $1::uuid', [id]);
}

/** Give back every lease of a replica that is shutting down. */
export async function releaseReplicaSseLeases(db: Queryable, replica: string): Promise<void> {
  await db.query('delete from sse_leases where replica = $1::uuid', [replica]);
}
