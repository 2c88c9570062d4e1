import pg from 'pg';
import type { Logger } from '../logger';
import { RUN_EVENTS_CHANNEL } from './types';

type Waker = () => void;

/**
 * One LISTEN connection per API process, fanned out to every stream reading a
 * run. Readers register a waker per run; a NOTIFY wakes that run's readers,
 * who then read the new rows themselves. The connection reconnects on failure
 * and readers also poll, so a lost notification only delays, never loses.
 */
export class EventHub {
  private client: pg.Client | undefined;
  private readonly wakers = new Map<string, Set<Waker>>();
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
      const payload = msg.payload ?? '';
      const runId = payload.slice(0, payload.indexOf(':'));
      this.wake(runId);
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'event hub connection lost; reconnecting');
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`listen ${RUN_EVENTS_CHANNEL}`);
    this.client = client;
    // Anything committed while we were disconnected is picked up by readers now.
    for (const runId of this.wakers.keys()) this.wake(runId);
  }

  private scheduleReconnect(): void {
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
      if (set.size === 0) this.wakers.delete(runId);
    };
  }

  /** Wake a run's readers (also used in-process when the API itself appends). */
  wake(runId: string): void {
    const set = this.wakers.get(runId);
    if (set) for (const waker of [...set]) waker();
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
