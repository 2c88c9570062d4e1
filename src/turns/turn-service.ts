import { createHash, randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  type Client,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config';
import { insertMessage } from '../db/messages';
import type { Pool } from '../db/pool';
import {
  deleteRun,
  findRunByIdempotencyKey,
  insertRun,
  type RunRow,
  type TurnInput,
} from '../db/runs';
import { ensureSession, insertSession, type SessionRow } from '../db/sessions';
import { sqlState, UNIQUE_VIOLATION, withTransaction } from '../db/sql';
import { ConflictError, NotFoundError, UnavailableError } from '../errors';
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
    private readonly temporal: Client,
    private readonly config: Config,
  ) {}

  async start(req: TurnRequest): Promise<StartedTurn> {
    const requestHash = fingerprint(req.requestFingerprint);
    if (req.idempotencyKey) {
      const existing = await this.replay(req.tenantId, req.idempotencyKey, requestHash);
      if (existing) return existing;
    }
    let run: RunRow;
    let session: SessionRow;
    try {
      ({ run, session } = await withTransaction(this.pool, async (tx) => {
        const s = req.sessionId
          ? await ensureSession(tx, {
              id: req.sessionId,
              tenantId: req.tenantId,
              userId: req.userId,
              agent: req.input.agent,
            })
          : await insertSession(tx, {
              id: randomUUID(),
              tenantId: req.tenantId,
              userId: req.userId,
              agent: req.input.agent,
            });
        if (!s) throw new NotFoundError('session');
        if (req.userId) {
          await tx.query(
            `insert into users (tenant_id, id) values ($1, $2)
             on conflict (tenant_id, id) do update set last_seen_at = now()`,
            [req.tenantId, req.userId],
          );
        }
        if (!req.sessionId) {
          for (const [i, m] of (req.seedHistory ?? []).entries()) {
            await insertMessage(tx, {
              id: randomUUID(),
              tenantId: req.tenantId,
              sessionId: s.id,
              runId: null,
              role: m.role,
              content: m.content,
              idemKey: `seed:${i}`,
            });
          }
        }
        const runId = randomUUID();
        const r = await insertRun(tx, {
          id: runId,
          tenantId: req.tenantId,
          kind: 'turn',
          sessionId: s.id,
          userId: req.userId,
          model: req.model,
          input: req.input,
          idempotencyKey: req.idempotencyKey ?? null,
          requestHash,
          workflowId: turnWorkflowId(req.tenantId, runId),
        });
        return { run: r, session: s };
      }));
    } catch (err) {
      // Two requests with one key raced: the loser answers as a retry.
      if (req.idempotencyKey && sqlState(err) === UNIQUE_VIOLATION) {
        const existing = await this.replay(req.tenantId, req.idempotencyKey, requestHash);
        if (existing) return existing;
      }
      throw err;
    }
    await this.submit(run, req.strategy, { deleteOnRejection: true });
    return { run, sessionId: session.id, created: true };
  }

  /** The run an idempotency key already started, re-submitted if it never got accepted. */
  private async replay(
    tenantId: string,
    key: string,
    requestHash: string,
  ): Promise<StartedTurn | undefined> {
    const run = await findRunByIdempotencyKey(this.pool, tenantId, key);
    if (!run) return undefined;
    if (run.request_hash !== requestHash) {
      throw new ConflictError(
        'idempotency_conflict',
        'this Idempotency-Key was used with a different request',
        {
          run_id: run.id,
        },
      );
    }
    // The first request may have died before the session accepted the run.
    if (run.status === 'queued') await this.submit(run, 'enqueue', { deleteOnRejection: false });
    return { run, sessionId: run.session_id!, created: false };
  }

  private async submit(
    run: RunRow,
    strategy: MultitaskStrategy,
    opts: { deleteOnRejection: boolean },
  ) {
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
      if (cause instanceof ApplicationFailure && cause.type === 'RunInProgress') {
        if (opts.deleteOnRejection) await deleteRun(this.pool, run.id);
        throw new ConflictError('run_in_progress', 'a turn is already running in this session', {
          session_id: sessionId,
          ...(cause.details?.[0] as object | undefined),
        });
      }
      if (isUnreachable(err)) {
        // Nothing reached Temporal: undo, so the rejected request changed nothing.
        if (opts.deleteOnRejection) await deleteRun(this.pool, run.id);
        throw new UnavailableError(
          'the workflow service is unavailable; nothing was accepted',
          { dependency: 'temporal' },
          err,
        );
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

function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: number } | undefined)?.code;
  // gRPC UNAVAILABLE: the request never reached the server.
  return code === 14 || /UNAVAILABLE|ECONNREFUSED/.test(String((err as Error)?.message));
}

function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
