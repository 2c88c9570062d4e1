import type { Pool } from '../../src/db/pool';
import { CounterBatcher } from '../../src/limits/counter-batcher';

/** A pool whose one table is an in-memory `rate_limits`, counting the statements it ran. */
function fakePool() {
  const rows = new Map<string, { points: number; expire: number }>();
  const statements: string[][] = [];
  const pool = {
    async query(
      _text: string,
      [keys, points, durations, now]: [string[], number[], number[], number],
    ) {
      statements.push(keys);
      await new Promise((r) => setTimeout(r, 5));
      return {
        rows: keys.map((key, i) => {
          const row = rows.get(key);
          const next =
            !row || row.expire <= now
              ? { points: points[i], expire: now + durations[i] }
              : { points: row.points + points[i], expire: row.expire };
          rows.set(key, next);
          return { key, points: next.points, expire: String(next.expire) };
        }),
      };
    },
  };
  return { pool: pool as unknown as Pool, statements };
}

describe('CounterBatcher', () => {
  it("puts one request's counters in one statement", async () => {
    const { pool, statements } = fakePool();
    const batcher = new CounterBatcher(pool);
    const [caller, tenant] = await Promise.all([
      batcher.take('rl3:100:key:a', 100_000),
      batcher.take('rl30:100:tenant:t', 100_000),
    ]);
    expect(statements).toEqual([['rl3:100:key:a', 'rl30:100:tenant:t']]);
    expect(caller.consumed).toBe(1);
    expect(tenant.consumed).toBe(1);
    expect(caller.msBeforeNext).toBeGreaterThan(99_000);
  });

  it('gives every request of a batch its own place in the window, exactly once', async () => {
    const { pool, statements } = fakePool();
    const batcher = new CounterBatcher(pool);
    const takes = await Promise.all(
      Array.from({ length: 25 }, (_, i) => batcher.take(i % 5 === 0 ? 'b' : 'a', 100_000)),
    );
    const places = (key: string) =>
      takes.filter((_, i) => (i % 5 === 0 ? 'b' : 'a') === key).map((t) => t.consumed);
    expect(places('a').sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(places('b').sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    expect(statements.length).toBe(1);
    // Requests arriving while a statement is in flight share the next one.
    const first = batcher.take('a', 100_000);
    await new Promise((r) => setImmediate(r));
    const later = await Promise.all([batcher.take('a', 100_000), batcher.take('a', 100_000)]);
    expect((await first).consumed).toBe(21);
    expect(later.map((t) => t.consumed).sort()).toEqual([22, 23]);
    expect(statements.length).toBe(3);
  });

  it('fails every request of a batch when the store fails', async () => {
    const pool = { query: () => Promise.reject(new Error('db down')) } as unknown as Pool;
    const batcher = new CounterBatcher(pool);
    await expect(Promise.all([batcher.take('a', 1000), batcher.take('b', 1000)])).rejects.toThrow(
      'db down',
    );
    await expect(batcher.take('a', 1000)).rejects.toThrow('db down');
  });
});
