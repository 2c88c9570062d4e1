import { KeyCache } from '../../src/auth/key-cache';
import { hashApiKey } from '../../src/db/api-keys';

/** A fake database that counts queries and answers for one key. */
function fakeDb(key: string) {
  const db = {
    queries: 0,
    revoked: false,
    async query(_text: string, values: unknown[]) {
      db.queries++;
      const live = values[0] === hashApiKey(key) && !db.revoked;
      return { rows: live ? [{ id: 'k1', tenant_id: 't1', scopes: ['chat'] }] : [] };
    },
  };
  return db;
}

describe('KeyCache', () => {
  it('costs one query for a key, then none', async () => {
    const db = fakeDb('rv_a_b');
    const cache = new KeyCache(db as never);
    for (let i = 0; i < 100; i++) expect((await cache.lookup('rv_a_b'))?.id).toBe('k1');
    expect(db.queries).toBe(1);
  });

  it('forgets a key when told it was revoked, and does not cache unknown keys', async () => {
    const db = fakeDb('rv_a_b');
    const cache = new KeyCache(db as never);
    await cache.lookup('rv_a_b');
    db.revoked = true;
    cache.invalidate('k1');
    expect(await cache.lookup('rv_a_b')).toBeUndefined();
    expect(await cache.lookup('rv_a_b')).toBeUndefined();
    expect(db.queries).toBe(3);
  });

  it('does not cache a read that raced with a revocation notice', async () => {
    const db = fakeDb('rv_a_b');
    const cache = new KeyCache(db as never);
    const pending = cache.lookup('rv_a_b');
    cache.invalidate('k1');
    await pending;
    await cache.lookup('rv_a_b');
    expect(db.queries).toBe(2);
  });
});
