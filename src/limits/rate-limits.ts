import type { Principal } from '../auth/principal';
import type { Config } from '../config';
import { SECURITY_CHANNEL } from '../db/api-keys';
import type { Pool } from '../db/pool';
import { CounterBatcher } from './counter-batcher';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import { BypassList } from './bypass-list';
import { SseConnections, type SseConnectionOptions } from './sse-connections';
import { RateLimitError, type RateLimitState } from './rate-limit-error';
import { callerLimits } from './tier-limits';

export { RateLimitError, type RateLimitState } from './rate-limit-error';

/**
 * Request limits shared by every API replica: fixed windows counted in
 * Postgres in rate-limiter-flexible's table and with its upsert (atomic per
 * counter, so the count is exact whatever replica serves), batched: the
 * requests a process receives while a count is in flight share the next
 * statement (CounterBatcher). Each request counts against its
 * caller (key, JWT user or anonymous IP) and, unless anonymous, its tenant
 * (the caller's limit times `RATE_TENANT_FACTOR`). Admin callers and the
 * bypass list skip them.
 */
export class RateLimits {
  readonly bypass: BypassList;
  readonly sse: SseConnections;
  private readonly batcher: CounterBatcher;

  constructor(
    pool: Pool,
    private readonly config: Config['rateLimits'],
    sse: SseConnectionOptions,
    log: Logger,
  ) {
    this.bypass = new BypassList(pool);
    this.batcher = new CounterBatcher(pool);
    this.sse = new SseConnections(pool, sse, log);
  }

  /** Hear bypass list changes from every process. */
  listen(hub: Pick<EventHub, 'onNotice'>): void {
    hub.onNotice(SECURITY_CHANNEL, (payload) => {
      if (payload === undefined || payload === 'bypass') this.bypass.invalidate();
    });
  }

  /**
   * Count one request. @returns the caller's state for the headers, or
   * undefined when the caller is not limited.
   * @throws RateLimitError when the caller or its tenant is over its limit
   */
  async consume(principal: Principal, ip: string): Promise<RateLimitState | undefined> {
    if (!this.config.enabled || principal.scopes.includes('admin')) return undefined;
    if (await this.bypass.matches(principal.keyId, ip)) return undefined;
    const limits = callerLimits(this.config, principal);
    const callerScope =
      principal.kind === 'anonymous' ? 'ip' : principal.kind === 'jwt' ? 'user' : 'key';
    const caller = this.take(
      principal.subject,
      limits.points,
      limits.durationSeconds,
      principal,
      callerScope,
    );
    // Both counters in parallel: one round trip of latency, not two.
    const tenant =
      principal.kind === 'anonymous'
        ? undefined
        : this.take(
            `tenant:${principal.tenantId}`,
            limits.points * this.config.tenantFactor,
            limits.durationSeconds,
            principal,
            'tenant',
          );
    const [callerState] = await Promise.all([caller, tenant]);
    return callerState;
  }

  private async take(
    key: string,
    points: number,
    duration: number,
    principal: Principal,
    scope: string,
  ): Promise<RateLimitState> {
    const { consumed, msBeforeNext } = await this.batcher.take(
      `${limiterPrefix(points, duration)}:${key}`,
      duration * 1000,
    );
    const resetSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
    if (consumed <= points) return { limit: points, remaining: points - consumed, resetSeconds };
    throw new RateLimitError(
      { limit: points, remaining: 0, resetSeconds },
      { limit: points, tier: principal.tier, retry_after: resetSeconds, scope },
    );
  }
}

/**
 * rate-limiter-flexible's key prefix for one (points, window) limit, so the
 * rows stay readable (and resettable) with a RateLimiterPostgres of that limit.
 */
function limiterPrefix(points: number, duration: number): string {
  return `rl${points}:${duration}`;
}
