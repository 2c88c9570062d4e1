import type pg from 'pg';
import { appendRunEvents } from './event-log';
import type { NewRunEvent } from './types';

export interface EventWriterOptions {
  pool: pg.Pool;
  runId: string;
  step?: number;
  attempt?: number;
  /** At most one batch per this many ms, except when `maxEvents` are buffered. */
  maxDelayMs: number;
  /** Flush when this many events are buffered. */
  maxEvents: number;
  /** Called after every persisted batch, e.g. to heartbeat the last seq. */
  onFlushed?: (lastSeq: number) => void;
}

/**
 * Buffers events and persists them in batches, one batch in flight at a time so
 * batches land in order. A writer that has not flushed for `maxDelayMs` sends
 * at once (no added latency for the first token); after that, batches leave at
 * most every `maxDelayMs` (and when `maxEvents` are buffered): a model streams
 * a token every few milliseconds, and a statement plus a NOTIFY per token was
 * most of a turn's database and relay cost. A failed flush makes the writer
 * fail: the activity must stop, and its retry continues the log.
 */
export class EventWriter {
  private buffer: NewRunEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private flushing = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  /** When the last batch was taken (performance.now()). */
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  lastSeq = 0;

  constructor(private readonly options: EventWriterOptions) {}

  /** Queue one event; throws if an earlier flush failed. */
  push(event: NewRunEvent): void {
    if (this.failure) throw this.failure;
    this.buffer.push(event);
    if (this.buffer.length >= this.options.maxEvents) this.flushInBackground();
    else this.schedule();
  }

  /** Arrange the next flush, unless one is arranged or in flight (its end calls this). */
  private schedule(): void {
    if (this.timer || this.immediate || this.flushing > 0) return;
    const wait = this.lastFlushAt + this.options.maxDelayMs - performance.now();
    // Right away (after this tick's burst) when the writer was quiet, else when the interval is up.
    if (wait <= 0) this.immediate = setImmediate(() => this.flushInBackground());
    else this.timer = setTimeout(() => this.flushInBackground(), wait);
  }

  /** Flushes nobody awaits: a failure is kept and rethrown by the next push or flush. */
  private flushInBackground(): void {
    this.flush().catch(() => undefined);
  }

  /** Persist everything buffered so far; resolves when it is committed. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length > 0) {
      this.lastFlushAt = performance.now();
      this.flushing++;
      this.inFlight = this.inFlight.then(async () => {
        try {
          if (this.failure) return;
          this.lastSeq = await appendRunEvents(this.options.pool, this.options.runId, batch, {
            step: this.options.step,
            attempt: this.options.attempt,
          });
          this.options.onFlushed?.(this.lastSeq);
        } catch (err) {
          this.failure = err instanceof Error ? err : new Error(String(err));
        } finally {
          this.flushing--;
          // What arrived while this batch was in flight goes next, on the interval.
          if (this.flushing === 0 && this.buffer.length > 0 && !this.failure) this.schedule();
        }
      });
    }
    return this.inFlight.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** Drop anything unflushed and stop the timer (used when the activity is cancelled). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.buffer = [];
  }
}
