import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { RunRow } from '../db/runs';
import { TURN_TASK_TIMEOUT } from '../../workflows/activity-options';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { RUN_KIND, SESSION_ID, TENANT_ID, USER_ID } from '../../workflows/search-attributes';
import {
  stopTurnSignal,
  TURN_PROTOCOL,
  turnWorkflow,
  type StopReason,
} from '../../workflows/turn.workflow';

/** The run fields a turn workflow is started from. */
export type TurnRunRef = Pick<RunRow, 'id' | 'tenant_id' | 'session_id' | 'user_id'>;

/**
 * Starts and stops turn workflows directly (no session entity): the session's
 * one-turn-at-a-time rule is its Postgres claim (src/db/session-claims.ts).
 * Both calls are idempotent on the workflow id `turn:{tenant}:{runId}`, and a
 * run never gets a second execution (REJECT_DUPLICATE).
 */
export class TurnStarter {
  /**
   * @param local a client on the connection of a worker in this process that
   *   polls the turns' task queue: starts through it ask Temporal to hand the
   *   first workflow task straight back to that worker (eager start), which
   *   spares the first token a task-queue dispatch.
   */
  constructor(
    private readonly temporal: Client,
    private readonly config: Config,
    private readonly local?: Client,
  ) {}

  /** Start the run's turn; a turn already started (or finished) is left alone. */
  async start(run: TurnRunRef): Promise<void> {
    try {
      await (this.local ?? this.temporal).workflow.start(turnWorkflow, {
        ...this.options(run),
        requestEagerStart: this.local !== undefined,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  /**
   * Stop the run's turn. Signal-with-start, so a holder whose start is still in
   * flight (its API between commit and start) stops as soon as it exists; a
   * finished turn refuses the start and nothing happens.
   */
  async stop(run: TurnRunRef, reason: StopReason): Promise<void> {
    try {
      await this.temporal.workflow.signalWithStart(turnWorkflow, {
        ...this.options(run),
        signal: stopTurnSignal,
        signalArgs: [{ reason }],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  private options(run: TurnRunRef) {
    return {
      workflowId: turnWorkflowId(run.tenant_id, run.id),
      taskQueue: this.config.temporal.taskQueue,
      args: [
        {
          tenantId: run.tenant_id,
          sessionId: run.session_id!,
          runId: run.id,
          maxSteps: this.config.turnMaxSteps,
          userId: run.user_id,
          protocol: TURN_PROTOCOL,
        },
      ] as [Parameters<typeof turnWorkflow>[0]],
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      // The model step runs inside a workflow task: a dead worker's task (and
      // step) moves to another worker after this long.
      workflowTaskTimeout: TURN_TASK_TIMEOUT,
      typedSearchAttributes: [
        { key: TENANT_ID, value: run.tenant_id },
        { key: SESSION_ID, value: run.session_id ?? '' },
        { key: USER_ID, value: run.user_id ?? '' },
        { key: RUN_KIND, value: 'turn' },
      ],
    };
  }
}
