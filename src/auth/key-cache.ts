import { findApiKeyByHash, hashApiKey, type ApiKeyRow } from '../db/api-keys';
import type { Queryable } from '../db/pool';

/** Keys kept per process; beyond this the oldest entries are dropped. */
const MAX_ENTRIES = 10_000;

/**
 * Live API keys this process has seen, by hash: a known key costs no query.
 * Revocation reaches every process as a `key:<id>` security notice (LISTEN/
 * NOTIFY), which drops the entry at once; there is no TTL. Expiry is checked
 * by the caller on every request from the cached `expires_at`.
 */
export class KeyCache {
  private readonly byHash = new Map<string, ApiKeyRow>();
  private readonly hashById = new Map<string, string>();
  /** Bumped by every notice: a read that started before one is not cached. */
  private epoch = 0;

  constructor(private readonly db: Queryable) {}

  /** @returns the live key, or undefined when it is unknown or revoked. */
  async lookup(key: string): Promise<ApiKeyRow | undefined> {
    const hash = hashApiKey(key);
    const hit = this.byHash.get(hash);
    if (hit) return hit;
    const epoch = this.epoch;
    const row = await findApiKeyByHash(this.db, hash);
    if (row && epoch === this.epoch) {
      if (this.byHash.size >= MAX_ENTRIES) this.evict(this.byHash.keys().next().value!);
      this.byHash.set(hash, row);
      this.hashById.set(row.id, hash);
    }
    return row;
  }

  /** Drop one key (revoked), or every key (the notice connection was lost). */
  invalidate(keyId?: string): void {
    this.epoch++;
    if (!keyId) {
      this.byHash.clear();
      this.hashById.clear();
      return;
    }
    const hash = this.hashById.get(keyId);
    if (hash) this.evict(hash);
  }

  private evict(hash: string): void {
    const row = this.byHash.get(hash);
    this.byHash.delete(hash);
    if (row) this.hashById.delete(row.id);
  }
}
