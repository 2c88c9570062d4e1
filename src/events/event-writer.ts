import type pg from 'pg';
import { appendRunEvents } from './event-log';
import type { NewRunEvent } from './types';

export interface EventWriterOptions {
  pool: pg.Pool;
  runId: string;
  step?: number;
  attempt?: number;
  /** Flush when the oldest buffered event is this old (ms). */
  maxDelayMs: number;
  /** Flush when this many events are buffered. */
  maxEvents: number;
  /** Called after every persisted batch, e.g. to heartbeat the last seq. */
  onFlushed?: (lastSeq: number) => void;
}

/**
 * Buffers events and persists them in batches, one batch in flight at a time so
 * batches land in order. An idle writer sends at once (no added latency for the
 * first token); events that arrive while a batch is in flight go together as
 * the next batch (group commit), never later than maxDelayMs and never more
 * than maxEvents at a time. A failed flush makes the writer fail: the activity
 * must stop, and its retry continues the log.
 */
export class EventWriter {
  private buffer: NewRunEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private flushing = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  lastSeq = 0;

  constructor(private readonly options: EventWriterOptions) {}

  /** Queue one event; throws if an earlier flush failed. */
  push(event: NewRunEvent): void {
    if (this.failure) throw this.failure;
    this.buffer.push(event);
    if (this.buffer.length >= this.options.maxEvents) {
      this.flushInBackground();
    } else if (this.flushing === 0 && !this.immediate) {
      // Idle writer: send now (after this tick's burst), so the first token is not delayed.
      this.immediate = setImmediate(() => this.flushInBackground());
    } else if (!this.timer && !this.immediate) {
      this.timer = setTimeout(() => this.flushInBackground(), this.options.maxDelayMs);
    }
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
          // Group commit: what arrived while this batch was in flight goes next.
          if (this.flushing === 0 && this.buffer.length > 0 && !this.failure)
            this.flushInBackground();
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
