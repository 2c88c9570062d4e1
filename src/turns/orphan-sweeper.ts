import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { many, withTransaction } from '../db/sql';
import type { Logger } from '../logger';
import { closeNotAccepted, recoverClaims } from './claim-recovery';
import type { TurnStarter } from './turn-starter';
import {
  getSessionStateQuery,
  sessionWorkflowId,
  turnWorkflowId,
} from '../../workflows/session.workflow';

/**
 * Finds turn runs that were recorded but never handed to their session (the
 * API died between the insert and the update-with-start, and the client did
 * not retry with its Idempotency-Key) and closes them as failed, so no run
 * stays `queued` forever. A run its session or Temporal knows is left alone.
 * Session claims whose holder will never finish are recovered too
 * (src/turns/claim-recovery.ts), so a session's queue always moves on.
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
    /** Starts turns a recovered claim passes to; without it claims are not recovered. */
    private readonly turns?: Pick<TurnStarter, 'start'>,
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
         -- Runs of a claimed session wait in Postgres (or hold it): recoverClaims' part.
         and not exists (select 1 from sessions s
                         where s.id = runs.session_id and s.active_run_id is not null)
       order by created_at limit 100`,
      [this.options.minAgeMs],
    );
    const closed: string[] = [];
    for (const run of candidates) {
      if (await this.knownToTemporal(run)) continue;
      const { closed: finished } = await withTransaction(this.pool, (tx) =>
        closeNotAccepted(tx, run.id),
      );
      if (finished) {
        closed.push(run.id);
        this.log.warn({ runId: run.id }, 'closed a turn run that was never accepted');
      }
    }
    if (this.turns) {
      const recovered = await recoverClaims(
        this.pool,
        this.temporal,
        this.turns,
        this.options.minAgeMs,
      );
      for (const runId of recovered)
        this.log.warn({ runId }, 'closed the dead holder of a session');
      closed.push(...recovered);
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
