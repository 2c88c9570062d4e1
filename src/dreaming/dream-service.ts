import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import { deleteRun, findRunByIdempotencyKey, insertRun, type RunRow } from '../db/runs';
import { sqlState, UNIQUE_VIOLATION } from '../db/sql';
import { ConflictError, UnavailableError } from '../errors';
import {
  dreamAllWorkflow,
  dreamAllWorkflowId,
  dreamingWorkflow,
  dreamWorkflowId,
} from '../../workflows/dreaming.workflow';
import { RUN_KIND, TENANT_ID, USER_ID } from '../../workflows/search-attributes';
import type { DreamRunInput } from './dream-store';

export interface DreamRequest {
  tenantId: string;
  /** One user; omitted → every user of the tenant with new activity. */
  userId: string | null;
  dryRun: boolean;
  tokenBudget?: number;
  idempotencyKey?: string;
  /** The window's end; now by default. */
  windowEnd?: Date;
}

/**
 * Starts dreaming runs on demand: records the run (kind `dream`), then starts
 * its workflow with search attributes an operator filters on.
 */
export async function startDreamRun(
  deps: { pool: Pool; temporal: Client; config: Config; defaultModel: string },
  req: DreamRequest,
): Promise<{ run: RunRow; created: boolean }> {
  const requestHash = createHash('sha256')
    .update(JSON.stringify({ user: req.userId, dry: req.dryRun, budget: req.tokenBudget ?? null }))
    .digest('hex');
  if (req.idempotencyKey) {
    const existing = await findRunByIdempotencyKey(deps.pool, req.tenantId, req.idempotencyKey);
    if (existing) {
      if (existing.request_hash !== requestHash) {
        throw new ConflictError(
          'idempotency_conflict',
          'this Idempotency-Key was used with a different request',
          { run_id: existing.id },
        );
      }
      return { run: existing, created: false };
    }
  }
  const windowEnd = (req.windowEnd ?? new Date()).toISOString();
  const workflowId = req.userId
    ? dreamWorkflowId(req.tenantId, req.userId, windowEnd)
    : dreamAllWorkflowId(req.tenantId, windowEnd);
  const input: DreamRunInput = {
    user_id: req.userId,
    window_end: windowEnd,
    dry_run: req.dryRun,
    token_budget: req.tokenBudget ?? deps.config.dreaming.tokenBudget,
  };
  let run: RunRow;
  try {
    run = await insertRun(deps.pool, {
      id: randomUUID(),
      tenantId: req.tenantId,
      kind: 'dream',
      sessionId: null,
      userId: req.userId,
      model: deps.config.dreaming.model ?? deps.defaultModel,
      input,
      idempotencyKey: req.idempotencyKey ?? null,
      requestHash,
      workflowId,
    });
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    if (req.idempotencyKey) {
      const existing = await findRunByIdempotencyKey(deps.pool, req.tenantId, req.idempotencyKey);
      if (existing) return { run: existing, created: false };
    }
    throw new ConflictError('conflict', 'a dreaming run for this window already exists; try again');
  }
  const { taskQueue } = deps.config.temporal;
  const attributes = [
    { key: TENANT_ID, value: req.tenantId },
    { key: RUN_KIND, value: 'dream' },
  ];
  try {
    if (req.userId) {
      await deps.temporal.workflow.start(dreamingWorkflow, {
        workflowId,
        taskQueue,
        args: [
          {
            tenantId: req.tenantId,
            userId: req.userId,
            windowEnd,
            runId: run.id,
            dryRun: req.dryRun,
            tokenBudget: input.token_budget,
            pageConcurrency: deps.config.dreaming.pageConcurrency,
          },
        ],
        typedSearchAttributes: [...attributes, { key: USER_ID, value: req.userId }],
      });
    } else {
      await deps.temporal.workflow.start(dreamAllWorkflow, {
        workflowId,
        taskQueue,
        args: [
          {
            tenantId: req.tenantId,
            windowEnd,
            runId: run.id,
            dryRun: req.dryRun,
            tokenBudget: input.token_budget,
            concurrency: deps.config.dreaming.userConcurrency,
            pageConcurrency: deps.config.dreaming.pageConcurrency,
          },
        ],
        typedSearchAttributes: attributes,
      });
    }
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { run, created: false };
    await deleteRun(deps.pool, run.id).catch(() => undefined);
    throw new UnavailableError(
      'could not start the dreaming run: Temporal is unavailable',
      undefined,
      err,
    );
  }
  return { run, created: true };
}
