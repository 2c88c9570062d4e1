import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal';
import type { Pool } from '../db/pool';
import {
  acquireSseLease,
  releaseReplicaSseLeases,
  releaseSseLease,
  renewSseLeases,
} from '../db/sse-leases';
import type { Logger } from '../logger';
import { RateLimitError } from './rate-limit-error';

/** A lease outlives this many missed renewals before it stops counting. */
const RENEWALS_PER_TTL = 3;

export interface SseConnectionOptions {
  /** Open streams one caller may hold across every replica (`SSE_MAX_PER_KEY`). */
  maxPerCaller: number;
  /** How often this replica renews its leases (`SSE_LEASE_RENEW_MS`). */
  renewMs: number;
}

/**
 * Open SSE streams per caller across every API replica (`SSE_MAX_PER_KEY`): a
 * stream holds a socket and a hub subscription for as long as the client
 * likes, so one key must not hold them all. Each stream holds a lease row in
 * Postgres (taken only while the caller is under the cap); this replica renews
 * all of its leases with one statement per interval while it holds any, so a
 * replica killed with its streams frees their places after a few intervals.
 * Admin callers are not capped.
 */
export class SseConnections {
  /** This process's identity on its lease rows. */
  readonly replica = randomUUID();
  private held = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(
    private readonly pool: Pool,
    private readonly options: SseConnectionOptions,
    private readonly log: Logger,
  ) {}

  private get ttlMs(): number {
    return this.options.renewMs * RENEWALS_PER_TTL;
  }

  /**
   * Take a place for one stream. @returns the function that gives it back (call once).
   * @throws RateLimitError (429, scope `sse_connections`) when the caller holds the maximum
   */
  async acquire(principal: Principal): Promise<() => void> {
    if (principal.scopes.includes('admin')) return () => undefined;
    const cap = this.options.maxPerCaller;
    const id = randomUUID();
    const taken = await acquireSseLease(this.pool, {
      id,
      subject: principal.subject,
      replica: this.replica,
      ttlMs: this.ttlMs,
      cap,
    });
    if (!taken) {
      throw new RateLimitError(
        { limit: cap, remaining: 0, resetSeconds: 1 },
        { limit: cap, tier: principal.tier, retry_after: 1, scope: 'sse_connections' },
      );
    }
    this.hold(+1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.hold(-1);
      // A failed delete costs nothing lasting: the lease is no longer renewed and expires.
      releaseSseLease(this.pool, id).catch((err: Error) =>
        this.log.warn({ err: err.message }, 'SSE lease not released; it expires by itself'),
      );
    };
  }

  /** Stop renewing and give back this replica's leases (server shutdown). */
  async close(): Promise<void> {
    this.stopRenewing();
    await releaseReplicaSseLeases(this.pool, this.replica).catch(() => undefined);
  }

  /** Renew only while this replica holds leases: an idle replica sends nothing. */
  private hold(delta: number): void {
    this.held += delta;
    if (this.held > 0 && !this.timer) {
      this.timer = setInterval(() => void this.renew(), this.options.renewMs);
      this.timer.unref();
    } else if (this.held === 0) this.stopRenewing();
  }

  private stopRenewing(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      await renewSseLeases(this.pool, this.replica, this.ttlMs);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'SSE leases not renewed; retrying next interval',
      );
    } finally {
      this.renewing = false;
    }
  }
}
