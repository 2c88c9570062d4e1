import type pg from 'pg';
import { createPool } from '../../src/db/pool';
import { withTransaction } from '../../src/db/sql';

/** Statements this connection has prepared, by text. */
async function preparedTexts(db: { query: typeof pg.Pool.prototype.query }): Promise<string[]> {
  const { rows } = await db.query<{ statement: string }>(
    'select statement from pg_prepared_statements',
  );
  return rows.map((r) => r.statement);
}

describe('prepared statements (src/db/preparing-client.ts)', () => {
  // One connection, so every query below meets the same server session.
  const pool = createPool(process.env.DATABASE_URL!, 1);
  afterAll(() => pool.end());

  it('prepares a parameterised statement once per connection and reuses it', async () => {
    const text = 'select $1::int + 1 as n /* prepared-statements test */';
    expect((await pool.query(text, [1])).rows[0].n).toBe(2);
    expect((await pool.query(text, [41])).rows[0].n).toBe(42);
    const texts = await preparedTexts(pool);
    expect(texts.filter((t) => t === text)).toHaveLength(1);
  });

  it('runs statements without parameters as they are', async () => {
    const text = 'select 7 as n /* unprepared */';
    expect((await pool.query(text)).rows[0].n).toBe(7);
    expect(await preparedTexts(pool)).not.toContain(text);
  });

  it('prepares inside transactions too, and a failed statement leaves the name usable', async () => {
    const text = 'select 1 / $1::int as n /* in a transaction */';
    await expect(withTransaction(pool, (tx) => tx.query(text, [0]))).rejects.toThrow(
      /division by zero/,
    );
    const ok = await withTransaction(pool, (tx) => tx.query(text, [1]));
    expect(ok.rows[0].n).toBe(1);
    expect((await preparedTexts(pool)).filter((t) => t === text)).toHaveLength(1);
  });
});

describe('prepared statements across a migration', () => {
  const pool = createPool(process.env.DATABASE_URL!, 1);
  const table = `prepared_${Date.now()}`;
  beforeAll(() => pool.query(`create table ${table} (a int)`));
  afterAll(async () => {
    await pool.query(`drop table if exists ${table}`);
    await pool.end();
  });

  it('prepares afresh when a changed table made a prepared read stale', async () => {
    await pool.query(`insert into ${table} values (1)`);
    const read = `select * from ${table} where a = $1`;
    expect((await pool.query(read, [1])).rows).toEqual([{ a: 1 }]);
    await pool.query(`alter table ${table} add column b int default 2`);
    // Outside a transaction the failed run is run again at once.
    expect((await pool.query(read, [1])).rows).toEqual([{ a: 1, b: 2 }]);

    const inTx = `select a, b from ${table} where a = $1 and b = $1 + 1`;
    expect((await pool.query(inTx, [1])).rows).toEqual([{ a: 1, b: 2 }]);
    await pool.query(`alter table ${table} alter column b type bigint`);
    // In a transaction it fails (the transaction is the caller's to retry), and the next works.
    await expect(withTransaction(pool, (tx) => tx.query(inTx, [1]))).rejects.toThrow(
      /cached plan must not change result type/,
    );
    const again = await withTransaction(pool, (tx) => tx.query(inTx, [1]));
    expect(again.rows).toEqual([{ a: 1, b: 2 }]);
  });
});

describe('prepared statements after the session dropped them', () => {
  const pool = createPool(process.env.DATABASE_URL!, 1);
  afterAll(() => pool.end());

  it.each(['discard all', 'DEALLOCATE ALL', 'deallocate prepare all;'])(
    'keeps working after %s',
    async (drop) => {
      const text = `select $1::int * 2 as n /* ${drop} */`;
      expect((await pool.query(text, [2])).rows[0].n).toBe(4);
      await pool.query(drop);
      expect((await pool.query(text, [3])).rows[0].n).toBe(6);
      expect((await preparedTexts(pool)).filter((t) => t === text)).toHaveLength(1);
    },
  );

  it('recovers when a statement vanished another way (26000), outside a transaction', async () => {
    const text = 'select $1::int - 1 as n /* vanished */';
    expect((await pool.query(text, [2])).rows[0].n).toBe(1);
    // Dropped by name, behind the client's back.
    const { rows } = await pool.query<{ name: string }>(
      'select name from pg_prepared_statements where statement = $1',
      [text],
    );
    await pool.query(`deallocate "${rows[0].name}"`);
    expect((await pool.query(text, [5])).rows[0].n).toBe(4);
  });
});
