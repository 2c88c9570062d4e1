import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { finishRun } from '../db/runs';
import { many, withTransaction } from '../db/sql';
import { appendRunEventsInTransaction } from '../events/event-log';
import type { Logger } from '../logger';
import {
  getSessionStateQuery,
  sessionWorkflowId,
  turnWorkflowId,
} from '../../workflows/session.workflow';

const NOT_ACCEPTED = {
  code: 'not_accepted',
  message: 'the request that created this run ended before the run was accepted; it never ran',
};

/**
 * Finds turn runs that were recorded but never handed to their session (the
 * API died between the insert and the update-with-start, and the client did
 * not retry with its Idempotency-Key) and closes them as failed, so no run
 * stays `queued` forever. A run its session or Temporal knows is left alone.
 */
export class OrphanRunSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly temporal: Client,
    private readonly log: Logger,
    private readonly options: { minAgeMs: number; intervalMs: number } = {
      minAgeMs: 120_000,
      intervalMs: 60_000,
    },
  ) {}

  start(): void {
    const tick = () => {
      this.sweepOnce()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'orphan run sweep failed'))
        .finally(() => {
          // Jitter keeps replicas from sweeping in lockstep.
          this.timer = setTimeout(tick, this.options.intervalMs * (0.5 + Math.random()));
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs * Math.random());
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** One pass; returns the ids of the runs it closed. */
  async sweepOnce(): Promise<string[]> {
    const candidates = await many<{ id: string; tenant_id: string; session_id: string }>(
      this.pool,
      `select id, tenant_id, session_id from runs
       where kind = 'turn' and status = 'queued' and last_seq = 0 and session_id is not null
         and created_at < now() - make_interval(secs => $1::float8 / 1000)
       order by created_at limit 100`,
      [this.options.minAgeMs],
    );
    const closed: string[] = [];
    for (const run of candidates) {
      if (await this.knownToTemporal(run)) continue;
      const finished = await withTransaction(this.pool, async (tx) => {
        const row = await finishRun(tx, run.id, { status: 'failed', error: NOT_ACCEPTED });
        if (!row) return false;
        await appendRunEventsInTransaction(tx, run.id, [
          { type: 'error', data: NOT_ACCEPTED },
          { type: 'done', data: { reason: 'failed', message_id: null } },
        ]);
        return true;
      });
      if (finished) {
        closed.push(run.id);
        this.log.warn({ runId: run.id }, 'closed a turn run that was never accepted');
      }
    }
    return closed;
  }

  private async knownToTemporal(run: { id: string; tenant_id: string; session_id: string }) {
    try {
      await this.temporal.workflow.getHandle(turnWorkflowId(run.tenant_id, run.id)).describe();
      return true; // its turn exists: it runs (or ran) on its own
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    try {
      const state = await this.temporal.workflow
        .getHandle(sessionWorkflowId(run.tenant_id, run.session_id))
        .query(getSessionStateQuery);
      return state.current === run.id || state.queue.includes(run.id);
    } catch (err) {
      // No session entity (closed or never started): nobody will run it.
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}
