import type pg from 'pg';
import type { EventHub } from './event-hub';
import { readDoneSeq, readRunEvents } from './event-log';
import { READ_PAGE, type RunEvent } from './types';

export interface RunEventStreamOptions {
  pool: pg.Pool;
  hub: EventHub;
  runId: string;
  afterSeq: number;
  /** Stop early (client went away). */
  signal?: AbortSignal;
  /** How often to re-read without a notification (safety net), ms. */
  pollMs?: number;
  /** Called when nothing arrived for `idleMs` (keep-alive comments). */
  onIdle?: () => void;
  idleMs?: number;
  /** Called after each batch a notification announced was consumed: ms since that notification. */
  onRelayed?: (ms: number) => void;
}

/**
 * Replay a run's events after `afterSeq`, then tail new ones until `done`
 * (at once when `afterSeq` is already at or past `done`).
 * The waker is registered before each read, so an event committed between the
 * read and the wait is never missed.
 */
export async function* streamRunEvents(options: RunEventStreamOptions): AsyncGenerator<RunEvent> {
  const { pool, hub, runId, signal } = options;
  const pollMs = options.pollMs ?? 1000;
  let cursor = options.afterSeq;
  let pending = true;
  let wake: (() => void) | undefined;
  const unsubscribe = hub.subscribe(runId, () => {
    pending = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    // A reader resuming at or past `done` has the whole log already: nothing will
    // ever follow, so end now instead of tailing a finished run forever.
    if (cursor > 0) {
      const doneSeq = await readDoneSeq(pool, runId);
      if (doneSeq !== undefined && cursor >= doneSeq) return;
    }
    let idleSince = Date.now();
    let first = true;
    let seenVersion = hub.version(runId);
    while (!signal?.aborted) {
      if (pending) {
        pending = false;
        // The first read is this reader's own (replay); later ones may share a
        // query with the run's other readers, as long as it began after the wake.
        const version = hub.version(runId);
        // Woken since the last read: these events are relayed, not replayed.
        const wokeAt = !first && version !== seenVersion ? hub.lastWake(runId) : undefined;
        seenVersion = version;
        const events = first
          ? await readRunEvents(pool, runId, cursor, READ_PAGE)
          : await hub.readEvents(pool, runId, cursor, version);
        first = false;
        // Once per batch, after its last event (a summary observation per token cost more than the relay).
        const relayed = () => {
          if (wokeAt !== undefined && events.length > 0)
            options.onRelayed?.(performance.now() - wokeAt);
        };
        for (const event of events) {
          cursor = event.seq;
          yield event;
          if (event.type === 'done') return relayed();
        }
        relayed();
        if (events.length > 0) {
          idleSince = Date.now();
          // A full page may have more behind it.
          if (events.length >= READ_PAGE) pending = true;
          continue;
        }
      }
      const idleMs = options.idleMs ?? Number.POSITIVE_INFINITY;
      const waitMs = Math.min(pollMs, Math.max(0, idleSince + idleMs - Date.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (pending || signal?.aborted) wake();
      });
      wake = undefined;
      if (Date.now() - idleSince >= idleMs) {
        options.onIdle?.();
        idleSince = Date.now();
      }
      pending = true;
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}
