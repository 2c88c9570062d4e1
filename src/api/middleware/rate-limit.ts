import type Koa from 'koa';
import type { Principal } from '../../auth/principal';
import { RateLimitError, type RateLimits, type RateLimitState } from '../../limits/rate-limits';

function setHeaders(ctx: Koa.Context, state: RateLimitState): void {
  ctx.set('RateLimit-Limit', String(state.limit));
  ctx.set('RateLimit-Remaining', String(state.remaining));
  ctx.set('RateLimit-Reset', String(state.resetSeconds));
}

/**
 * Count each authenticated request against its caller and tenant; over a
 * limit, 429 `rate_limit_exceeded` with `Retry-After`. Every response of a
 * limited caller carries `RateLimit-Limit` / `-Remaining` / `-Reset`.
 */
export function rateLimit(limits: RateLimits) {
  return async function rateLimitMiddleware(ctx: Koa.Context, next: Koa.Next) {
    let state: RateLimitState | undefined;
    try {
      state = await limits.consume(ctx.state.principal as Principal, ctx.ip);
    } catch (err) {
      if (err instanceof RateLimitError) setHeaders(ctx, err.state);
      throw err;
    }
    if (state) setHeaders(ctx, state);
    await next();
  };
}
