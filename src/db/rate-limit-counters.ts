import type { Queryable } from './pool';
import { many } from './sql';

/** One fixed-window counter to count a request against. */
export interface CounterTake {
  /** The row key, as rate-limiter-flexible names it (`<keyPrefix>:<key>`). */
  key: string;
  durationMs: number;
}

/** A counter after the request: points used in the window and when the window ends (ms epoch). */
export interface CounterState {
  key: string;
  points: number;
  expire: number;
}

/**
 * Count one point against several counters of the `rate_limits` table in one
 * statement: rate-limiter-flexible's RateLimiterPostgres upsert (a window that
 * has expired restarts at 1), for many rows at once, so the rows stay in the
 * library's format. Rows are taken in key order, so two statements sharing a
 * counter (callers of one tenant) never deadlock.
 */
export async function consumeCounters(
  db: Queryable,
  takes: readonly CounterTake[],
  nowMs: number,
): Promise<Map<string, CounterState>> {
  const rows = await many<{ key: string; points: number; expire: string }>(
    db,
    `insert into rate_limits (key, points, expire)
     select k, 1, $3::bigint + d from unnest($1::text[], $2::bigint[]) as t(k, d) order by k
     on conflict (key) do update set
       points = case when rate_limits.expire <= $3::bigint then 1 else rate_limits.points + 1 end,
       expire = case when rate_limits.expire <= $3::bigint then excluded.expire
                     else rate_limits.expire end
     returning key, points, expire`,
    [takes.map((t) => t.key), takes.map((t) => t.durationMs), nowMs],
  );
  return new Map(
    rows.map((r) => [r.key, { key: r.key, points: r.points, expire: Number(r.expire) }]),
  );
}
