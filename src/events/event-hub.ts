import pg from 'pg';
import type { Logger } from '../logger';
import { parseNotification, readRunEvents } from './event-log';
import { READ_PAGE, RUN_EVENTS_CHANNEL, type RunEvent } from './types';

interface SharedRead {
  after: number;
  version: number;
  events: Promise<RunEvent[]>;
}

/** Called on each wake, with the notified events when the notification carried them. */
type Waker = (events?: RunEvent[]) => void;

/**
 * Called with a notification's payload on an extra channel, or with undefined
 * after a reconnect (notifications may have been missed: forget what you cached).
 */
export type NoticeHandler = (payload: string | undefined) => void;

/** Notified events kept per run with readers (readers further behind read the table). */
const RECENT_EVENTS = 256;

/**
 * One LISTEN connection per API process, fanned out to every stream reading a
 * run. Readers register a waker per run; a NOTIFY wakes that run's readers,
 * who then read the new rows themselves. The connection reconnects on failure
 * and readers also poll, so a lost notification only delays, never loses.
 */
export class EventHub {
  private client: pg.Client | undefined;
  private readonly wakers = new Map<string, Set<Waker>>();
  /** Per run: how many times it was woken (a notification, or the API's own append). */
  private readonly versions = new Map<string, number>();
  /** Per run: the read in flight that other readers may join. */
  private readonly reads = new Map<string, SharedRead>();
  /**
   * Per run with readers: the latest events that arrived in notifications, a
   * gapless run of seqs. A reader whose cursor falls inside it needs no query.
   */
  private readonly recent = new Map<string, RunEvent[]>();
  /** Per run: when the latest wake happened (performance.now()), for the relay latency metric. */
  private readonly wokenAt = new Map<string, number>();
  /** Extra channels (e.g. security changes) and who hears them. */
  private readonly channels = new Map<string, Set<NoticeHandler>>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (msg.channel !== RUN_EVENTS_CHANNEL) {
        for (const handler of this.channels.get(msg.channel) ?? []) handler(msg.payload ?? '');
        return;
      }
      const note = parseNotification(msg.payload ?? '');
      if (!note) return;
      // Nobody reads this run here: no need to decode its events.
      if (!this.wakers.has(note.runId)) return this.wake(note.runId);
      const events = note.events();
      this.remember(note.runId, events);
      this.wake(note.runId, events);
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'event hub connection lost; reconnecting');
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`listen ${RUN_EVENTS_CHANNEL}`);
    for (const channel of this.channels.keys()) await client.query(`listen ${channel}`);
    this.client = client;
    // Whatever the other channels' listeners cached may have changed unheard.
    for (const handlers of this.channels.values())
      for (const handler of handlers) handler(undefined);
    // Anything committed while we were disconnected is picked up by readers now.
    for (const runId of this.wakers.keys()) this.wake(runId);
  }

  private scheduleReconnect(): void {
    // Notifications may be lost while disconnected: what was kept is no longer known to be complete.
    this.recent.clear();
    const old = this.client;
    this.client = undefined;
    void old?.end().catch(() => undefined);
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err: Error) => {
        this.log.warn({ err: err.message }, 'event hub reconnect failed');
        this.scheduleReconnect();
      });
    }, 500);
  }

  /**
   * Hear notifications on another channel over this same connection (one
   * LISTEN connection per process). `channel` is a constant identifier, never
   * user input. Register before {@link start}, or the channel is listened to
   * at the next (re)connect and on the current connection right away.
   */
  onNotice(channel: string, handler: NoticeHandler): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
      void this.client?.query(`listen ${channel}`).catch(() => this.scheduleReconnect());
    }
    set.add(handler);
  }

  /** Call `waker` whenever the run gets new events; returns the unsubscribe function. */
  subscribe(runId: string, waker: Waker): () => void {
    let set = this.wakers.get(runId);
    if (!set) {
      set = new Set();
      this.wakers.set(runId, set);
    }
    set.add(waker);
    return () => {
      set.delete(waker);
      if (set.size === 0) {
        this.wakers.delete(runId);
        this.recent.delete(runId);
        this.wokenAt.delete(runId);
        if (!this.reads.has(runId)) this.versions.delete(runId);
      }
    };
  }

  /** Wake a run's readers (also used in-process when the API itself appends). */
  wake(runId: string, events?: RunEvent[]): void {
    this.versions.set(runId, (this.versions.get(runId) ?? 0) + 1);
    this.wokenAt.set(runId, performance.now());
    const set = this.wakers.get(runId);
    if (set) for (const waker of [...set]) waker(events);
  }

  /** When the run was last woken (performance.now()), if it has readers. */
  lastWake(runId: string): number | undefined {
    return this.wokenAt.get(runId);
  }

  /** Keep a notified batch, or forget what we had when the batch is unknown or not contiguous. */
  private remember(runId: string, events: RunEvent[] | undefined): void {
    const kept = this.recent.get(runId) ?? [];
    const contiguous = events && (kept.length === 0 || events[0]?.seq === kept.at(-1)!.seq + 1);
    if (!events || events.length === 0 || !contiguous) {
      if (events && events.length > 0) this.recent.set(runId, events.slice(-RECENT_EVENTS));
      else this.recent.delete(runId);
      return;
    }
    const next = kept.concat(events);
    this.recent.set(runId, next.length > RECENT_EVENTS ? next.slice(-RECENT_EVENTS) : next);
  }

  /** The events after `after` when the notified ones cover them; undefined means: read them. */
  private fromRecent(runId: string, after: number): RunEvent[] | undefined {
    const kept = this.recent.get(runId);
    // Nothing newer than the cursor (a poll, or a wake ahead of its notification): ask the table.
    if (!kept || kept.length === 0 || kept[0].seq > after + 1 || kept.at(-1)!.seq <= after)
      return undefined;
    return kept.filter((e) => e.seq > after);
  }

  /** The run's wake count; pass it to {@link readEvents} as the freshness a reader needs. */
  version(runId: string): number {
    return this.versions.get(runId) ?? 0;
  }

  /**
   * A run's events after `after`, with one query shared by the run's readers:
   * a read in flight is joined when it began at or after wake `minVersion` (so
   * its snapshot holds what woke the caller) from a cursor at or before
   * `after`. With many readers per run, a batch costs one query, not one each;
   * a batch that came with its notification costs none.
   */
  readEvents(pool: pg.Pool, runId: string, after: number, minVersion: number): Promise<RunEvent[]> {
    // Notifications arrive in commit order, so what they brought is all that
    // woke the caller: no query needed.
    const notified = this.fromRecent(runId, after);
    if (notified) return Promise.resolve(notified);
    const shared = this.reads.get(runId);
    if (shared && shared.after <= after && shared.version >= minVersion) {
      return shared.events.then((events) =>
        // A full page may stop short of what this reader needs: read its own.
        events.length >= READ_PAGE
          ? readRunEvents(pool, runId, after, READ_PAGE)
          : events.filter((e) => e.seq > after),
      );
    }
    const entry: SharedRead = {
      after,
      version: this.version(runId),
      events: readRunEvents(pool, runId, after, READ_PAGE),
    };
    this.reads.set(runId, entry);
    const clear = () => {
      if (this.reads.get(runId) === entry) this.reads.delete(runId);
    };
    entry.events.then(clear, clear);
    return entry.events;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
