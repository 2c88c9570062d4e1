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
import { claimSession, handOffClaim, lockSessionHold } from '../db/session-claims';
import { getRun, requestRunStop } from '../db/runs';
import { withTransaction } from '../db/sql';
import { touchUser } from '../db/users';
import { ConflictError, NotFoundError } from '../errors';
import { FailureType } from '../failure-types';
import type { RunStarter } from '../runs/run-starter';
import { abortTurnRunInTransaction } from './turn-lifecycle';
import { TurnStarter } from './turn-starter';
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
  /**
   * Admission checks that must hold when the run is recorded (the cap on a
   * user's running turns): run first in the run's transaction, so two starts
   * cannot both pass on the same count.
   */
  admit?: (tx: Queryable) => Promise<void>;
}

export interface StartedTurn {
  run: RunRow;
  sessionId: string;
  /** False when an idempotent retry found the run of an earlier request. */
  created: boolean;
}

/**
 * How a recorded turn run reaches Temporal, decided under the session's lock
 * in the run's own transaction:
 * - `claimed`: the session was idle; the run holds it and its turn workflow
 *   starts directly (one workflow, no entity: the common case);
 * - `queued`: a claimed turn holds the session; the run waits in Postgres
 *   and the holder's finishing transaction hands the session to it;
 * - `entity`: turns started by the session entity (the path before claims)
 *   are still live; the run goes to the entity, which keeps serialising them.
 */
type Route = { kind: 'claimed' } | { kind: 'queued'; holderId: string } | { kind: 'entity' };

/**
 * Starts chat turns: records the run (claim check) and, in the same
 * transaction, applies the session's one-turn-at-a-time rule (its Postgres
 * claim), then starts the turn workflow (or leaves it queued). Starts are
 * idempotent on the workflow id, so a retried request never starts a second turn.
 */
export class TurnService {
  private readonly turns: TurnStarter;

  constructor(
    private readonly pool: Pool,
    private readonly runs: RunStarter,
    private readonly temporal: Client,
    private readonly config: Config,
    /** Starts and stops the turns of claimed sessions (one per API, shared with the sweeper). */
    turns?: TurnStarter,
  ) {
    this.turns = turns ?? new TurnStarter(temporal, config);
  }

  /**
   * @throws NotFoundError 404 when `sessionId` names another tenant's session.
   * @throws ConflictError 409 `run_in_progress` (strategy `reject`) or `idempotency_conflict`.
   * @throws UnavailableError 503 when Temporal cannot be reached; nothing is kept.
   */
  async start(req: TurnRequest): Promise<StartedTurn> {
    const made: Made = {};
    const { run, created } = await this.runs.start({
      tenantId: req.tenantId,
      kind: 'turn',
      userId: req.userId,
      model: req.model,
      input: req.input,
      workflowId: (runId) => turnWorkflowId(req.tenantId, runId),
      idempotencyKey: req.idempotencyKey,
      fingerprint: req.requestFingerprint,
      prepare: async (tx, runId) => {
        await req.admit?.(tx);
        const prepared = await this.prepareSession(tx, req, made);
        made.route = await this.route(tx, prepared.sessionId, runId, req.strategy);
        return prepared;
      },
      // A retry's strategy is `enqueue`: the first request's was already applied.
      launch: (r, retry) => this.launch(r, retry ? undefined : made.route, req.strategy),
      undo: (r) => this.undo(made, r),
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

  /**
   * Apply the session's claim to a run being recorded (the caller's transaction).
   * @throws ConflictError 409 `run_in_progress` for `reject` on a busy session: nothing is stored
   */
  private async route(
    tx: Queryable,
    sessionId: string,
    runId: string,
    strategy: MultitaskStrategy,
  ): Promise<Route> {
    const hold = await lockSessionHold(tx, sessionId);
    if (hold.entityBusy) return { kind: 'entity' };
    if (!hold.holderId) {
      await claimSession(tx, sessionId, runId, false);
      return { kind: 'claimed' };
    }
    if (strategy === 'reject') {
      throw new ConflictError('run_in_progress', 'a turn is already running in this session', {
        session_id: sessionId,
        runId: hold.holderId,
      });
    }
    return { kind: 'queued', holderId: hold.holderId };
  }

  /** Hand the recorded run to Temporal by its route; a retry reads the route again. */
  private async launch(run: RunRow, route: Route | undefined, strategy: MultitaskStrategy) {
    const retry = route === undefined;
    const at = route ?? (await this.currentRoute(run));
    if (at.kind === 'claimed') return this.turns.start(run);
    if (at.kind === 'entity') return this.submit(run, retry ? 'enqueue' : strategy);
    // Queued: its turn starts when the holder hands the session over.
    if (!retry && strategy === 'interrupt') {
      const holder = await getRun(this.pool, run.tenant_id, at.holderId);
      if (holder && (await requestRunStop(this.pool, holder.id, 'interrupted')))
        await this.turns.stop(holder, 'interrupted');
    }
  }

  /** Where an earlier request's run stands now (an Idempotency-Key retry of a `queued` run). */
  private async currentRoute(run: RunRow): Promise<Route> {
    const hold = await lockSessionHold(this.pool, run.session_id!);
    if (hold.holderId === run.id) return { kind: 'claimed' };
    if (hold.holderId) return { kind: 'queued', holderId: hold.holderId };
    return { kind: 'entity' };
  }

  /** Undo a refused or unconfirmed run: free its claim for the next queued turn, drop its session. */
  private async undo(made: Made, run: RunRow): Promise<void> {
    if (made.route?.kind === 'claimed') {
      const next = await withTransaction(this.pool, (tx) => handOffClaim(tx, run.id));
      if (next) await this.turns.start(next).catch(() => undefined); // else the sweeper
    }
    await this.undoSession(made.sessionId, run.id);
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

  /**
   * Cancel (or interrupt) a run: a queued run leaves the queue at once
   * (settled, not behind the running turn), the holder of the session stops.
   */
  async cancel(run: RunRow, reason: 'cancelled' | 'interrupted' = 'cancelled'): Promise<void> {
    if (!run.session_id) return;
    const sessionId = run.session_id;
    // Under the session's lock, so a hand-off cannot give the session to a run being cancelled.
    const action = await withTransaction(this.pool, async (tx) => {
      const hold = await lockSessionHold(tx, sessionId);
      // The running step reads the request (it cannot see the signal until its task ends).
      if (hold.holderId === run.id)
        return (await requestRunStop(tx, run.id, reason))
          ? ('stop' as const)
          : ('settled' as const);
      if (!hold.holderId) return 'entity' as const;
      await abortTurnRunInTransaction(tx, { runId: run.id, status: reason });
      return 'settled' as const;
    });
    if (action === 'stop') await this.turns.stop(run, reason);
    if (action === 'entity') {
      await this.temporal.workflow
        .getHandle(sessionWorkflowId(run.tenant_id, sessionId))
        .signal(cancelRunSignal, { runId: run.id, reason });
    }
  }
}

/** What this request made, for its launch and its undo. */
interface Made {
  sessionId?: string;
  route?: Route;
}
