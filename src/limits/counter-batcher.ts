import type { Pool } from '../db/pool';
import { addToCounters, type CounterAdd } from '../db/rate-limit-counters';

/** One request's place in its counter's window. */
export interface CounterTake {
  /** Points used in the window including this request (over the limit: refused). */
  consumed: number;
  msBeforeNext: number;
}

interface Waiter {
  key: string;
  durationMs: number;
  resolve: (take: CounterTake) => void;
  reject: (err: unknown) => void;
}

/**
 * Counts requests against their rate-limit counters with at most one
 * statement in flight per process: requests arriving meanwhile (any callers,
 * any counters) go together into the next one. A statement per counter per
 * request made counting the dearest part of a request, and a key request
 * (caller and tenant counters) paid for it twice (bench `auth`). The count
 * stays exact across replicas: a batch adds its n points to a row
 * atomically, and the i-th request of the batch holds place
 * `points - n + i` in the window. An idle process sends within the tick.
 */
export class CounterBatcher {
  private queued: Waiter[] = [];
  /** A statement is in flight or about to be sent. */
  private busy = false;

  constructor(private readonly pool: Pool) {}

  /** Count one point against `key` (a window of `durationMs`). @throws what the store throws */
  take(key: string, durationMs: number): Promise<CounterTake> {
    const taken = new Promise<CounterTake>((resolve, reject) =>
      this.queued.push({ key, durationMs, resolve, reject }),
    );
    if (!this.busy) {
      this.busy = true;
      // After this tick: a request's counters (caller, tenant) go in one statement.
      queueMicrotask(() => void this.send());
    }
    return taken;
  }

  private async send(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    try {
      const adds = new Map<string, CounterAdd>();
      for (const w of batch) {
        const add = adds.get(w.key);
        if (add) add.points++;
        else adds.set(w.key, { key: w.key, points: 1, durationMs: w.durationMs });
      }
      const now = Date.now();
      const rows = await addToCounters(this.pool, [...adds.values()], now);
      const placed = new Map<string, number>();
      for (const w of batch) {
        const row = rows.get(w.key)!;
        const i = (placed.get(w.key) ?? 0) + 1;
        placed.set(w.key, i);
        const before = row.points - adds.get(w.key)!.points;
        w.resolve({ consumed: before + i, msBeforeNext: row.expire - now });
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      if (this.queued.length > 0) void this.send();
      else this.busy = false;
    }
  }
}
