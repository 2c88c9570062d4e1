import type { Queryable } from './pool';
import { many } from './sql';

/** Points to add to one fixed-window counter. */
export interface CounterAdd {
  /** The row key, as rate-limiter-flexible names it (`<keyPrefix>:<key>`). */
  key: string;
  points: number;
  durationMs: number;
}

/** A counter after the add: points used in its window and when the window ends (ms epoch). */
export interface CounterRow {
  key: string;
  points: number;
  expire: number;
}

/**
 * Add points to many counters of the `rate_limits` table in one statement:
 * rate-limiter-flexible's RateLimiterPostgres upsert (a window that has
 * expired restarts at the points added), over a batch of rows, so the rows
 * keep the library's format. Rows are taken in key order, so two statements
 * sharing counters never deadlock. Keys must be distinct.
 */
export async function addToCounters(
  db: Queryable,
  adds: readonly CounterAdd[],
  nowMs: number,
): Promise<Map<string, CounterRow>> {
  const rows = await many<{ key: string; points: number; expire: string }>(
    db,
    `insert into rate_limits (key, points, expire)
     select k, n, $4::bigint + d
     from unnest($1::text[], $2::integer[], $3::bigint[]) as t(k, n, d) order by k
     on conflict (key) do update set
       points = case when rate_limits.expire <= $4::bigint then excluded.points
                     else rate_limits.points + excluded.points end,
       expire = case when rate_limits.expire <= $4::bigint then excluded.expire
                     else rate_limits.expire end
     returning key, points, expire`,
    [adds.map((a) => a.key), adds.map((a) => a.points), adds.map((a) => a.durationMs), nowMs],
  );
  return new Map(
    rows.map((r) => [r.key, { key: r.key, points: r.points, expire: Number(r.expire) }]),
  );
}
