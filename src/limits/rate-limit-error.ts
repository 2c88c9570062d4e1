import { AppError } from '../errors';

/** What `RateLimit-*` headers report for an accepted request. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/** 429 `rate_limit_exceeded` in the contract's shape (API.md "Errors"). */
export class RateLimitError extends AppError {
  constructor(
    readonly state: RateLimitState,
    details: { limit: number; tier: string; retry_after: number; scope: string },
  ) {
    super(
      429,
      'rate_limit_exceeded',
      details.tier === 'anonymous'
        ? 'You have exceeded your rate limit. Please sign in or upgrade to continue.'
        : `rate limit exceeded (${details.scope}); retry after ${details.retry_after} s`,
      details,
    );
  }
}
