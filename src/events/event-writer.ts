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
 * Buffers events and persists them in batches (≤ maxDelayMs or maxEvents), one
 * batch in flight at a time so batches land in order. A failed flush makes the
 * writer fail: the activity must stop, and its retry continues the log.
 */
export class EventWriter {
  private buffer: NewRunEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  lastSeq = 0;

  constructor(private readonly options: EventWriterOptions) {}

  /** Queue one event; throws if an earlier flush failed. */
  push(event: NewRunEvent): void {
    if (this.failure) throw this.failure;
    this.buffer.push(event);
    if (this.buffer.length >= this.options.maxEvents) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.options.maxDelayMs);
    }
  }

  /** Persist everything buffered so far; resolves when it is committed. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length > 0) {
      this.inFlight = this.inFlight.then(async () => {
        if (this.failure) return;
        try {
          this.lastSeq = await appendRunEvents(this.options.pool, this.options.runId, batch, {
            step: this.options.step,
            attempt: this.options.attempt,
          });
          this.options.onFlushed?.(this.lastSeq);
        } catch (err) {
          this.failure = err instanceof Error ? err : new Error(String(err));
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
    this.timer = undefined;
    this.buffer = [];
  }
}
