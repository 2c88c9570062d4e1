import type pg from 'pg';
import type { Queryable } from './pool';

/** Exactly one row, or throw: for queries whose row must exist. */
export async function one<T extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<T> {
  const res = await db.query<T>(text, values);
  if (res.rows.length !== 1) throw new Error(`expected one row, got ${res.rows.length}`);
  return res.rows[0];
}

/** Zero or one row. */
export async function maybeOne<T extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<T | undefined> {
  const res = await db.query<T>(text, values);
  return res.rows[0];
}

/** Any number of rows. */
export async function many<T extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const res = await db.query<T>(text, values);
  return res.rows;
}

/** Run `fn` in a transaction that exists only inside the callback. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (tx: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** SQLSTATE of a pg error, if any. */
export function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
