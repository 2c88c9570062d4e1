import { getTenant, type TenantLimits } from '../db/tenants';
import type { Queryable } from '../db/pool';

export interface TenantPolicy {
  tier: string;
  limits: TenantLimits;
}

/**
 * Tier and limits of each tenant seen by this process, read once and dropped
 * when a `tenant:<id>` security notice says it changed. Unknown tenants are
 * not cached (a tenant created later must be found).
 */
export class TenantCache {
  private readonly entries = new Map<string, TenantPolicy>();
  private epoch = 0;

  constructor(private readonly db: Queryable) {}

  /** @returns the tenant's policy, or undefined when no such tenant exists. */
  async get(tenantId: string): Promise<TenantPolicy | undefined> {
    const hit = this.entries.get(tenantId);
    if (hit) return hit;
    const epoch = this.epoch;
    const row = await getTenant(this.db, tenantId);
    if (!row) return undefined;
    const policy = { tier: row.tier, limits: row.limits ?? {} };
    // A change heard while we were reading may be newer than what we read.
    if (epoch === this.epoch) this.entries.set(tenantId, policy);
    return policy;
  }

  /** Forget one tenant, or all of them (after a reconnect). */
  invalidate(tenantId?: string): void {
    this.epoch++;
    if (tenantId) this.entries.delete(tenantId);
    else this.entries.clear();
  }
}
