import type { Principal } from '../auth/principal';
import { RateLimitError } from './rate-limit-error';

/**
 * Open SSE streams per caller in this process (`SSE_MAX_PER_KEY`): a stream
 * holds a socket and a hub subscription for as long as the client likes, so
 * one key must not hold them all. Admin callers are not capped.
 */
export class SseConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerCaller: number) {}

  /**
   * Take a slot for one stream. @returns the function that gives it back (call once).
   * @throws RateLimitError (429, scope `sse_connections`) when the caller holds the maximum
   */
  acquire(principal: Principal): () => void {
    if (principal.scopes.includes('admin')) return () => undefined;
    const subject = principal.subject;
    const held = this.open.get(subject) ?? 0;
    if (held >= this.maxPerCaller) {
      throw new RateLimitError(
        { limit: this.maxPerCaller, remaining: 0, resetSeconds: 1 },
        {
          limit: this.maxPerCaller,
          tier: principal.tier,
          retry_after: 1,
          scope: 'sse_connections',
        },
      );
    }
    this.open.set(subject, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(subject) ?? 1) - 1;
      if (left <= 0) this.open.delete(subject);
      else this.open.set(subject, left);
    };
  }
}
