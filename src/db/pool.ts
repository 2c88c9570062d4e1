import pg from 'pg';
import { PreparingClient } from './preparing-client';

// Postgres returns bigint (int8) as string by default; our bigints (seq, counts)
// stay far below 2^53, so parse them as numbers once, here.
pg.types.setTypeParser(20, (v) => Number(v));

export type Pool = pg.Pool;
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** Build a pool; only composition roots (server, worker, CLI, tests) call this. */
export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 30_000,
    Client: PreparingClient,
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}
