import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Pool, Queryable } from '../db/pool';
import {
  deleteRun,
  findRunByIdempotencyKey,
  insertRun,
  type RunKind,
  type RunRow,
} from '../db/runs';
import { sqlState, UNIQUE_VIOLATION, withTransaction } from '../db/sql';
import { AppError, ConflictError, UnavailableError } from '../errors';
import { requestHash } from './request-hash';

/** What the caller writes beside the run row, in the same transaction. */
export interface RecordedRows {
  /** The run's session, when the rows decided it (a new session, say). */
  sessionId?: string | null;
}

/**
 * One kind of run being started. The starter owns the order (replay check,
 * rows, workflow start, undo); the request says what is specific to its kind.
 */
export interface RunStartRequest {
  tenantId: string;
  kind: RunKind;
  userId: string | null;
  sessionId?: string | null;
  model: string | null;
  /** Stored with the run (claim check): the workflow carries ids only. */
  input: unknown;
  /** A preassigned run id (when other rows must name it first); random otherwise. */
  runId?: string;
  workflowId: (runId: string) => string;
  idempotencyKey?: string;
  /** What an Idempotency-Key must match on a retry: the request that carried it, hashed. */
  fingerprint: unknown;
  /** Rows the run refers to (its session, its user), written first in the run's transaction. */
  prepare?: (tx: Queryable, runId: string) => Promise<RecordedRows | void>;
  /** Rows that refer to the run (a file), written last in the run's transaction. */
  attach?: (tx: Queryable, run: RunRow) => Promise<void>;
  /**
   * Hand the recorded run to Temporal. Called again for a retry that finds its
   * run still `queued` (the first request may have died before the start), so
   * it must be idempotent on the run: a fixed workflow id or update id.
   * Throwing an {@link AppError} means the run was refused: it is undone.
   */
  launch: (run: RunRow, retry: boolean) => Promise<void>;
  /** Undo what `prepare` and `attach` made outside the run row's cascade (a blob, say). */
  undo?: (run: RunRow) => Promise<void>;
  /**
   * On a failure that leaves unknown whether Temporal accepted the run, keep
   * it: the orphan sweeper closes it if it never ran. Off: undo it anyway.
   */
  keepWhenUncertain?: boolean;
}

export interface StartedRun {
  run: RunRow;
  /** False when an Idempotency-Key retry found the run of an earlier request. */
  created: boolean;
}

/**
 * The one way a run starts (turns, ingestions, dreaming, memory extraction,
 * and every façade over them): Idempotency-Key replay, the run row, the
 * workflow start, and the undo when the start fails, so a refused request
 * changes nothing and an accepted one is never started twice.
 */
export class RunStarter {
  constructor(private readonly pool: Pool) {}

  /**
   * @throws ConflictError 409 `idempotency_conflict` when the key was used with another request.
   * @throws UnavailableError 503 when Temporal cannot be reached; nothing is kept.
   * @throws AppError whatever `launch` refused the run with; nothing is kept.
   */
  async start(req: RunStartRequest): Promise<StartedRun> {
    const hash = requestHash(req.fingerprint);
    if (req.idempotencyKey) {
      const existing = await this.replay(req, hash);
      if (existing) return existing;
    }
    let run: RunRow;
    try {
      run = await this.record(req, hash);
    } catch (err) {
      // Two requests with one key raced: the loser answers as a retry.
      if (req.idempotencyKey && sqlState(err) === UNIQUE_VIOLATION) {
        const existing = await this.replay(req, hash);
        if (existing) return existing;
      }
      throw err;
    }
    await this.launch(req, run, false);
    return { run, created: true };
  }

  private async record(req: RunStartRequest, hash: string): Promise<RunRow> {
    const runId = req.runId ?? randomUUID();
    return withTransaction(this.pool, async (tx) => {
      const recorded = (await req.prepare?.(tx, runId)) ?? {};
      const run = await insertRun(tx, {
        id: runId,
        tenantId: req.tenantId,
        kind: req.kind,
        sessionId: recorded.sessionId ?? req.sessionId ?? null,
        userId: req.userId,
        model: req.model,
        input: req.input,
        idempotencyKey: req.idempotencyKey ?? null,
        requestHash: hash,
        workflowId: req.workflowId(runId),
      });
      await req.attach?.(tx, run);
      return run;
    });
  }

  /** The run this key already started, launched again if it never got past `queued`. */
  private async replay(req: RunStartRequest, hash: string): Promise<StartedRun | undefined> {
    const run = await findRunByIdempotencyKey(this.pool, req.tenantId, req.idempotencyKey!);
    if (!run) return undefined;
    if (run.request_hash !== hash || run.kind !== req.kind) {
      throw new ConflictError(
        'idempotency_conflict',
        'this Idempotency-Key was used with a different request',
        { run_id: run.id },
      );
    }
    if (run.status === 'queued') await this.launch(req, run, true);
    return { run, created: false };
  }

  private async launch(req: RunStartRequest, run: RunRow, retry: boolean): Promise<void> {
    try {
      await req.launch(run, retry);
    } catch (err) {
      // A second start of the same workflow id: the run is already under way.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      // A retry never undoes: the first request's run may be accepted meanwhile.
      const refused = err instanceof AppError;
      const kept = retry || (req.keepWhenUncertain && !refused && !isUnreachable(err));
      if (!kept) await this.undo(req, run);
      if (refused) throw err;
      throw new UnavailableError(
        kept
          ? 'the workflow service did not confirm the run; retry with the same Idempotency-Key'
          : 'the workflow service is unavailable; nothing was accepted',
        { dependency: 'temporal', ...(kept ? { run_id: run.id } : {}) },
        err,
      );
    }
  }

  private async undo(req: RunStartRequest, run: RunRow): Promise<void> {
    await req.undo?.(run).catch(() => undefined);
    await deleteRun(this.pool, run.id).catch(() => undefined);
  }
}

/** gRPC UNAVAILABLE or a refused connection: the request never reached Temporal. */
function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: number } | undefined)?.code;
  return code === 14 || /UNAVAILABLE|ECONNREFUSED/.test(String((err as Error)?.message));
}
