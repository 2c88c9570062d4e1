import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '../auth/principal';
import type { Config } from '../config';
import { SECURITY_CHANNEL } from '../db/api-keys';
import type { Pool } from '../db/pool';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import { BypassList } from './bypass-list';
import { SseConnections, type SseConnectionOptions } from './sse-connections';
import { RateLimitError, type RateLimitState } from './rate-limit-error';
import { callerLimits } from './tier-limits';

export { RateLimitError, type RateLimitState } from './rate-limit-error';

/**
 * Request limits shared by every API replica: fixed windows counted in
 * Postgres by rate-limiter-flexible (one atomic upsert per counter, so the
 * count is exact whatever replica serves). Each request counts against its
 * caller (key, JWT user or anonymous IP) and its tenant (the caller's limit
 * times `RATE_TENANT_FACTOR`). Admin callers and the bypass list skip them.
 */
export class RateLimits {
  readonly bypass: BypassList;
  readonly sse: SseConnections;
  private readonly limiters = new Map<string, RateLimiterPostgres>();

  constructor(
    private readonly pool: Pool,
    private readonly config: Config['rateLimits'],
    sse: SseConnectionOptions,
    log: Logger,
  ) {
    this.bypass = new BypassList(pool);
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
    const limiter = this.limiter(points, duration);
    try {
      const res = await limiter.consume(key);
      return { limit: points, remaining: res.remainingPoints, resetSeconds: resetOf(res) };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const retryAfter = resetOf(err);
      throw new RateLimitError(
        { limit: points, remaining: 0, resetSeconds: retryAfter },
        { limit: points, tier: principal.tier, retry_after: retryAfter, scope },
      );
    }
  }

  private limiter(points: number, duration: number): RateLimiterPostgres {
    const id = `${points}:${duration}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient: this.pool,
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        keyPrefix: `rl${id}`,
        points,
        duration,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}

function resetOf(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
