import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { RunRow } from '../db/runs';
import { sqlState, UNIQUE_VIOLATION } from '../db/sql';
import { ConflictError } from '../errors';
import type { RunStarter, StartedRun } from '../runs/run-starter';
import {
  getDreamSchedule,
  putDreamSchedule,
  type DreamScheduleChange,
  type DreamScheduleJson,
} from './schedule';
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

/** Dreaming as the API offers it: runs on demand and the tenant's schedule. */
export class DreamingService {
  constructor(
    private readonly deps: {
      runs: RunStarter;
      temporal: Client;
      config: Config;
      defaultModel: string;
    },
  ) {}

  start(req: DreamRequest): Promise<StartedRun> {
    return startDreamRun(this.deps, req);
  }

  /** The tenant's schedule, or undefined when it has none. */
  schedule(tenantId: string): Promise<DreamScheduleJson | undefined> {
    return getDreamSchedule(this.deps.temporal, tenantId);
  }

  /** @throws InvalidRequestError for a schedule without interval or cron, or with both. */
  putSchedule(tenantId: string, change: DreamScheduleChange): Promise<DreamScheduleJson> {
    return putDreamSchedule(this.deps.temporal, this.deps.config, tenantId, change);
  }
}

/**
 * Starts dreaming runs on demand: records the run (kind `dream`), then starts
 * its workflow with search attributes an operator filters on.
 * @throws ConflictError 409 `idempotency_conflict`, or `conflict` when a run of this window exists.
 * @throws UnavailableError 503 when Temporal cannot be reached; nothing is kept.
 */
export async function startDreamRun(
  deps: { runs: RunStarter; temporal: Client; config: Config; defaultModel: string },
  req: DreamRequest,
): Promise<StartedRun> {
  const windowEnd = (req.windowEnd ?? new Date()).toISOString();
  const input: DreamRunInput = {
    user_id: req.userId,
    window_end: windowEnd,
    dry_run: req.dryRun,
    token_budget: req.tokenBudget ?? deps.config.dreaming.tokenBudget,
  };
  try {
    return await deps.runs.start({
      tenantId: req.tenantId,
      kind: 'dream',
      userId: req.userId,
      model: deps.config.dreaming.model ?? deps.defaultModel,
      input,
      workflowId: () =>
        req.userId
          ? dreamWorkflowId(req.tenantId, req.userId, windowEnd)
          : dreamAllWorkflowId(req.tenantId, windowEnd),
      idempotencyKey: req.idempotencyKey,
      fingerprint: { user: req.userId, dry: req.dryRun, budget: req.tokenBudget ?? null },
      launch: (run) => launchDream(deps, run),
    });
  } catch (err) {
    // One run per user and window: the unique workflow id of `runs_dream_workflow`.
    if (sqlState(err) === UNIQUE_VIOLATION)
      throw new ConflictError(
        'conflict',
        'a dreaming run for this window already exists; try again',
      );
    throw err;
  }
}

/** Start the run's workflow from what the run row holds (a retry launches the same). */
async function launchDream(deps: { temporal: Client; config: Config }, run: RunRow): Promise<void> {
  const input = run.input as unknown as DreamRunInput;
  const { taskQueue } = deps.config.temporal;
  const common = {
    tenantId: run.tenant_id,
    windowEnd: input.window_end,
    runId: run.id,
    dryRun: input.dry_run,
    tokenBudget: input.token_budget,
    pageConcurrency: deps.config.dreaming.pageConcurrency,
  };
  const attributes = [
    { key: TENANT_ID, value: run.tenant_id },
    { key: RUN_KIND, value: 'dream' },
  ];
  const workflowId = run.workflow_id!;
  if (input.user_id) {
    await deps.temporal.workflow.start(dreamingWorkflow, {
      workflowId,
      taskQueue,
      args: [{ ...common, userId: input.user_id }],
      typedSearchAttributes: [...attributes, { key: USER_ID, value: input.user_id }],
    });
  } else {
    await deps.temporal.workflow.start(dreamAllWorkflow, {
      workflowId,
      taskQueue,
      args: [{ ...common, concurrency: deps.config.dreaming.userConcurrency }],
      typedSearchAttributes: attributes,
    });
  }
}
