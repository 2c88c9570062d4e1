import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testStackEnv } from '../setup/stack-env';

const admin = () => {
  const pool = new pg.Pool({ connectionString: testStackEnv().DATABASE_URL, max: 1 });
  pool.on('error', () => undefined);
  return pool;
};

/** A fresh database on the shared Postgres server (its own row counts, no other test's writes); dropped (with its connections) by `drop`. */
export async function throwawayDatabase(): Promise<{
  url: string;
  pools: pg.Pool[];
  pool(): pg.Pool;
  drop(): Promise<void>;
}> {
  const name = `x_${randomBytes(6).toString('hex')}`;
  const server = admin();
  await server.query(`create database ${name}`);
  const url = new URL(testStackEnv().DATABASE_URL);
  url.pathname = `/${name}`;
  const pools: pg.Pool[] = [];
  return {
    url: url.toString(),
    pools,
    pool() {
      const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      await server.query(`drop database if exists ${name} with (force)`);
      await server.end();
    },
  };
}
