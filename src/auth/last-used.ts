import { touchApiKeys } from '../db/api-keys';
import type { Queryable } from '../db/pool';
import type { Logger } from '../logger';

/**
 * `last_used_at` without a write per request: uses are remembered in memory
 * and written in one batched update per interval, so each key costs at most
 * one row update per interval per process.
 */
export class LastUsedRecorder {
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  record(keyId: string): void {
    this.pending.set(keyId, new Date());
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Write what is pending now (also on shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    await touchApiKeys(this.db, batch).catch((err: Error) =>
      this.log.warn(
        { err: err.message, keys: batch.size },
        'could not record key use; will not retry',
      ),
    );
  }
}
