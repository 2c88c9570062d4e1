import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  type Client,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config';
import { insertMessage } from '../db/messages';
import type { Pool, Queryable } from '../db/pool';
import type { RunRow, TurnInput } from '../db/runs';
import { ensureSession } from '../db/sessions';
import { touchUser } from '../db/users';
import { ConflictError, NotFoundError } from '../errors';
import { FailureType } from '../failure-types';
import type { RunStarter } from '../runs/run-starter';
import {
  cancelRunSignal,
  sessionWorkflow,
  sessionWorkflowId,
  submitTurnUpdate,
  turnWorkflowId,
  type MultitaskStrategy,
} from '../../workflows/session.workflow';
import { SESSION_ID, TENANT_ID, USER_ID, RUN_KIND } from '../../workflows/search-attributes';

export interface TurnRequest {
  tenantId: string;
  userId: string | null;
  /** Continue this session (created if unknown); omitted → a new session. */
  sessionId?: string;
  /** History to seed a new session with (OpenAI clients sending the whole conversation). */
  seedHistory?: { role: 'user' | 'assistant' | 'system'; content: string }[];
  input: TurnInput;
  model: string;
  strategy: MultitaskStrategy;
  idempotencyKey?: string;
  /** What the idempotency key must match: a hash of the request that carried it. */
  requestFingerprint: unknown;
}

export interface StartedTurn {
  run: RunRow;
  sessionId: string;
  /** False when an idempotent retry found the run of an earlier request. */
  created: boolean;
}

/**
 * Starts chat turns: records the run (claim check), then hands it to the
 * session entity with update-with-start. The update id is the run id, so a
 * retried request can never start a second turn.
 */
export class TurnService {
  constructor(
    private readonly pool: Pool,
    private readonly runs: RunStarter,
    private readonly temporal: Client,
    private readonly config: Config,
  ) {}

  /**
   * @throws NotFoundError 404 when `sessionId` names another tenant's session.
   * @throws ConflictError 409 `run_in_progress` (strategy `reject`) or `idempotency_conflict`.
   * @throws UnavailableError 503 when Temporal cannot be reached; nothing is kept.
   */
  async start(req: TurnRequest): Promise<StartedTurn> {
    const made: { sessionId?: string } = {};
    const { run, created } = await this.runs.start({
      tenantId: req.tenantId,
      kind: 'turn',
      userId: req.userId,
      model: req.model,
      input: req.input,
      workflowId: (runId) => turnWorkflowId(req.tenantId, runId),
      idempotencyKey: req.idempotencyKey,
      fingerprint: req.requestFingerprint,
      prepare: (tx) => this.prepareSession(tx, req, made),
      // A retry re-submits with `enqueue`: the first request's strategy was already applied.
      launch: (r, retry) => this.submit(r, retry ? 'enqueue' : req.strategy),
      undo: (r) => this.undoSession(made.sessionId, r.id),
      keepWhenUncertain: true,
    });
    return { run, sessionId: run.session_id!, created };
  }

  /**
   * The turn's session (continued or new, seeded with the client's history)
   * and its user. A session this request made is the request's to undo.
   */
  private async prepareSession(
    tx: Queryable,
    req: TurnRequest,
    made: { sessionId?: string },
  ): Promise<{ sessionId: string }> {
    const ensured = await ensureSession(tx, {
      id: req.sessionId ?? randomUUID(),
      tenantId: req.tenantId,
      userId: req.userId,
      agent: req.input.agent,
    });
    if (!ensured) throw new NotFoundError('session');
    const { session, created } = ensured;
    if (created) made.sessionId = session.id;
    if (req.userId) await touchUser(tx, req.tenantId, req.userId);
    if (!req.sessionId) {
      for (const [i, m] of (req.seedHistory ?? []).entries()) {
        await insertMessage(tx, {
          id: randomUUID(),
          tenantId: req.tenantId,
          sessionId: session.id,
          runId: null,
          role: m.role,
          content: m.content,
          idemKey: `seed:${i}`,
        });
      }
    }
    return { sessionId: session.id };
  }

  /** Remove a session the refused request made, unless another run has joined it since. */
  private async undoSession(sessionId: string | undefined, runId: string): Promise<void> {
    if (!sessionId) return;
    await this.pool.query(
      `delete from sessions s where s.id = $1
         and not exists (select 1 from runs r where r.session_id = s.id and r.id <> $2)`,
      [sessionId, runId],
    );
  }

  private async submit(run: RunRow, strategy: MultitaskStrategy): Promise<void> {
    const sessionId = run.session_id!;
    const workflowId = sessionWorkflowId(run.tenant_id, sessionId);
    const startOp = new WithStartWorkflowOperation(sessionWorkflow, {
      workflowId,
      taskQueue: this.config.temporal.taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [
        {
          tenantId: run.tenant_id,
          sessionId,
          maxSteps: this.config.turnMaxSteps,
          turnsBeforeContinueAsNew: this.config.sessionTurnsBeforeContinueAsNew,
        },
      ],
      typedSearchAttributes: [
        { key: TENANT_ID, value: run.tenant_id },
        { key: SESSION_ID, value: sessionId },
        { key: USER_ID, value: run.user_id ?? '' },
        { key: RUN_KIND, value: 'session' },
      ],
    });
    try {
      await this.temporal.workflow.executeUpdateWithStart(submitTurnUpdate, {
        args: [{ runId: run.id, userId: run.user_id, strategy }],
        updateId: run.id,
        startWorkflowOperation: startOp,
      });
    } catch (err) {
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === FailureType.RunInProgress) {
        throw new ConflictError('run_in_progress', 'a turn is already running in this session', {
          session_id: sessionId,
          ...(cause.details?.[0] as object | undefined),
        });
      }
      throw err;
    }
  }

  /** Cancel (or interrupt) a run: queued runs leave the queue, a running one stops. */
  async cancel(run: RunRow, reason: 'cancelled' | 'interrupted' = 'cancelled'): Promise<void> {
    if (!run.session_id) return;
    await this.temporal.workflow
      .getHandle(sessionWorkflowId(run.tenant_id, run.session_id))
      .signal(cancelRunSignal, { runId: run.id, reason });
  }
}
