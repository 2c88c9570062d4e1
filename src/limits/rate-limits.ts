import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '../auth/principal';
import type { Config } from '../config';
import { SECURITY_CHANNEL } from '../db/api-keys';
import type { Pool } from '../db/pool';
import { consumeCounters } from '../db/rate-limit-counters';
import type { EventHub } from '../events/event-hub';
import type { Logger } from '../logger';
import { BypassList } from './bypass-list';
import { SseConnections, type SseConnectionOptions } from './sse-connections';
import { RateLimitError, type RateLimitState } from './rate-limit-error';
import { callerLimits } from './tier-limits';

export { RateLimitError, type RateLimitState } from './rate-limit-error';

/**
 * Request limits shared by every API replica: fixed windows counted in
 * Postgres in rate-limiter-flexible's table format (an atomic upsert per
 * counter, so the count is exact whatever replica serves). Each request
 * counts against its caller (key, JWT user or anonymous IP) and, unless
 * anonymous, its tenant (the caller's limit times `RATE_TENANT_FACTOR`): the
 * library's RateLimiterPostgres for the one counter of anonymous callers, its
 * upsert batched over both counters otherwise (src/db/rate-limit-counters.ts).
 * Admin callers and the bypass list skip them.
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
    if (principal.kind === 'anonymous')
      return this.take(principal.subject, limits.points, limits.durationSeconds, principal, 'ip');
    return this.takeWithTenant(principal, limits.points, limits.durationSeconds);
  }

  /**
   * The caller's counter and its tenant's (the caller's limit times
   * `RATE_TENANT_FACTOR`) in one statement: a second round trip per request
   * cost the key path over 10 % of its throughput (bench `auth`).
   */
  private async takeWithTenant(
    principal: Principal,
    points: number,
    duration: number,
  ): Promise<RateLimitState> {
    const counters = [
      {
        key: `${limiterPrefix(points, duration)}:${principal.subject}`,
        points,
        scope: principal.kind === 'jwt' ? 'user' : 'key',
      },
      {
        key: `${limiterPrefix(points * this.config.tenantFactor, duration)}:tenant:${principal.tenantId}`,
        points: points * this.config.tenantFactor,
        scope: 'tenant',
      },
    ];
    const now = Date.now();
    const states = await consumeCounters(
      this.pool,
      counters.map((c) => ({ key: c.key, durationMs: duration * 1000 })),
      now,
    );
    const results = counters.map((c) => {
      const state = states.get(c.key)!;
      return {
        ...c,
        used: state.points,
        resetSeconds: Math.max(1, Math.ceil((state.expire - now) / 1000)),
      };
    });
    const over = results.find((r) => r.used > r.points);
    if (over) {
      throw new RateLimitError(
        { limit: over.points, remaining: 0, resetSeconds: over.resetSeconds },
        {
          limit: over.points,
          tier: principal.tier,
          retry_after: over.resetSeconds,
          scope: over.scope,
        },
      );
    }
    const caller = results[0];
    return {
      limit: caller.points,
      remaining: Math.max(0, caller.points - caller.used),
      resetSeconds: caller.resetSeconds,
    };
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
    const id = limiterPrefix(points, duration);
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient: this.pool,
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        keyPrefix: id,
        points,
        duration,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}

/** The key prefix of one (points, window) limiter: rows of equal limits are shared. */
function limiterPrefix(points: number, duration: number): string {
  return `rl${points}:${duration}`;
}

function resetOf(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
