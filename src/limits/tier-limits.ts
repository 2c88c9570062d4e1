import type { Config } from '../config';
import type { Principal } from '../auth/principal';

/** The limits that apply to one caller. */
export interface CallerLimits {
  /** Requests per window (the burst). */
  points: number;
  /** Window length in seconds: `burst / rps`, at least 1. */
  durationSeconds: number;
  maxConcurrentTurns: number;
}

/**
 * A caller's limits: `RATE_RPS` / `RATE_BURST` / `MAX_CONCURRENT_TURNS`, then
 * the tier's `RATE_TIERS` entry, then the tenant's own `limits` (not for
 * anonymous callers, whose tier is `anonymous` whatever the default tenant's).
 */
export function callerLimits(config: Config['rateLimits'], principal: Principal): CallerLimits {
  const tier = config.tiers[principal.tier as keyof typeof config.tiers] ?? {};
  const own = principal.kind === 'anonymous' ? {} : principal.limits;
  const rps = own.rps ?? tier.rps ?? config.rps;
  const burst = own.burst ?? tier.burst ?? config.burst;
  return {
    points: burst,
    durationSeconds: Math.max(1, Math.round(burst / rps)),
    maxConcurrentTurns:
      own.max_concurrent_turns ?? tier.max_concurrent_turns ?? config.maxConcurrentTurns,
  };
}
