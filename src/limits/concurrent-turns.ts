import type { Principal } from '../auth/principal';
import type { Config } from '../config';
import { countActiveTurns } from '../db/active-turns';
import type { Queryable } from '../db/pool';
import { RateLimitError } from './rate-limit-error';
import { callerLimits } from './tier-limits';

/**
 * The cap on a user's turns running at once (tier, tenant `limits`,
 * `MAX_CONCURRENT_TURNS`): the user's queued and running turn runs are
 * counted in Postgres when a turn starts, so every replica sees the same count.
 * Called in the run's transaction (TurnRequest.admit): a transaction lock per
 * user serialises that user's starts, so concurrent ones cannot both pass.
 * @throws RateLimitError (scope `concurrent_turns`) when the user is at the cap
 */
export async function checkConcurrentTurns(
  db: Queryable,
  config: Config['rateLimits'],
  principal: Principal,
  userId: string | null,
): Promise<void> {
  if (!config.enabled || principal.scopes.includes('admin')) return;
  const limit = callerLimits(config, principal).maxConcurrentTurns;
  await db.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `concurrent-turns:${principal.tenantId}:${userId ?? ''}`,
  ]);
  const active = await countActiveTurns(db, principal.tenantId, userId);
  if (active >= limit) {
    throw new RateLimitError(
      { limit, remaining: 0, resetSeconds: 1 },
      { limit, tier: principal.tier, retry_after: 1, scope: 'concurrent_turns' },
    );
  }
}
