import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  defineQuery,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { DREAM_MODEL_STEP, DREAM_STEP } from './activity-options';
import { RUN_KIND, TENANT_ID, USER_ID } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

const bookkeeping = proxyActivities<Activities>(DREAM_STEP);
const model = proxyActivities<Activities>(DREAM_MODEL_STEP);

export interface DreamingWorkflowInput {
  tenantId: string;
  userId: string;
  /** End of the window (ISO); the window starts at the user's watermark. */
  windowEnd: string;
  /** The run the API created; a scheduled run creates its own. */
  runId?: string;
  dryRun?: boolean;
  tokenBudget?: number;
  /** Pages dreamt at once. @default 4 */
  pageConcurrency?: number;
  parentRunId?: string;
}

export type DreamStatus = 'succeeded' | 'skipped' | 'failed' | 'cancelled' | 'interrupted';

export interface DreamOutcome {
  runId: string;
  status: DreamStatus;
  pages: number;
  messages: number;
}

export interface DreamProgress {
  runId: string | null;
  stage: 'planning' | 'moments' | 'facts' | 'profile' | 'affinity' | 'finished';
  pages: number;
  pagesDone: number;
}

export const getDreamProgressQuery = defineQuery<DreamProgress>('getDreamProgress');

/** A compact, id-safe form of a window end: `2025-01-02T03:04:05.678Z` → `20250102T030405678Z`. */
export function windowKey(windowEnd: string): string {
  return windowEnd.replace(/[-:.]/g, '');
}

/** The workflow id of one user's dreaming run over one window. */
export function dreamWorkflowId(tenantId: string, userId: string, windowEnd: string): string {
  return `dream:${tenantId}:${userId}:${windowKey(windowEnd)}`;
}

/** The workflow id of a tenant's fan-out (a schedule appends its own timestamp). */
export function dreamAllWorkflowId(tenantId: string, windowEnd?: string): string {
  return windowEnd ? `dream-all:${tenantId}:${windowKey(windowEnd)}` : `dream-all:${tenantId}`;
}

/**
 * One user's dreaming run over (watermark, windowEnd]: plan pages of message
 * ids → moments and candidate facts per page → facts consolidated into
 * memories → profile → affinity links → watermark. Content never passes
 * through the workflow: activities read and write Postgres by run id and page
 * number. Every step is idempotent, so a crashed worker's step simply runs
 * again; the watermark moves only once everything is persisted.
 */
export async function dreamingWorkflow(input: DreamingWorkflowInput): Promise<DreamOutcome> {
  const progress: DreamProgress = {
    runId: input.runId ?? null,
    stage: 'planning',
    pages: 0,
    pagesDone: 0,
  };
  setHandler(getDreamProgressQuery, () => progress);

  const plan = await bookkeeping.beginDream({
    tenantId: input.tenantId,
    userId: input.userId,
    workflowId: workflowInfo().workflowId,
    windowEnd: input.windowEnd,
    runId: input.runId,
    dryRun: input.dryRun,
    tokenBudget: input.tokenBudget,
    parentRunId: input.parentRunId,
  });
  const { runId } = plan;
  progress.runId = runId;
  progress.pages = plan.pages;
  const outcome = (status: DreamStatus): DreamOutcome => {
    progress.stage = 'finished';
    return { runId, status, pages: plan.pages, messages: plan.messages };
  };
  if (plan.skip) {
    await bookkeeping.finishDream({ runId, status: 'succeeded', reason: 'no_activity' });
    return outcome('skipped');
  }

  try {
    let overBudget = false;
    progress.stage = 'moments';
    const concurrency = Math.max(1, input.pageConcurrency ?? 4);
    for (let first = 0; first < plan.pages && !overBudget; first += concurrency) {
      const batch: number[] = [];
      for (let page = first; page < Math.min(plan.pages, first + concurrency); page++)
        batch.push(page);
      const results = await Promise.all(batch.map((page) => model.dreamPage({ runId, page })));
      progress.pagesDone += batch.length;
      overBudget = results.some((r) => r.budgetExceeded);
    }
    if (!overBudget) {
      progress.stage = 'facts';
      overBudget = (await model.consolidateDreamFacts({ runId })).budgetExceeded;
    }
    if (!overBudget) {
      progress.stage = 'profile';
      overBudget = (await model.buildDreamProfile({ runId })).budgetExceeded;
    }
    if (overBudget) {
      await bookkeeping.finishDream({
        runId,
        status: 'interrupted',
        reason: 'token_budget',
        error: {
          code: 'token_budget_exceeded',
          message:
            'the run reached its token budget; its changes so far are kept, the watermark is not moved',
        },
      });
      return outcome('interrupted');
    }
    progress.stage = 'affinity';
    await bookkeeping.linkDreamAffinity({ runId });
    await bookkeeping.finishDream({ runId, status: 'succeeded', reason: 'completed' });
    return outcome('succeeded');
  } catch (err) {
    const cancelled = isCancellation(err);
    await CancellationScope.nonCancellable(() =>
      bookkeeping.finishDream({
        runId,
        status: cancelled ? 'cancelled' : 'failed',
        reason: cancelled ? 'cancelled' : 'failed',
        error: cancelled ? undefined : { code: 'dream_failed', message: describe(err) },
      }),
    );
    return outcome(cancelled ? 'cancelled' : 'failed');
  }
}

export interface DreamAllWorkflowInput {
  tenantId: string;
  /** @default the workflow's start time (a scheduled run: when it fired) */
  windowEnd?: string;
  runId?: string;
  dryRun?: boolean;
  tokenBudget?: number;
  /** Users dreamt at once. @default 4 */
  concurrency?: number;
  pageConcurrency?: number;
  /**
   * Tag children with TenantId/UserId/RunKind. @default true (off only where the
   * server knows no custom search attributes, e.g. the time-skipping test server)
   */
  searchAttributes?: boolean;
  /** State carried across continue-as-new. */
  carried?: {
    runId: string;
    windowEnd: string;
    cursor: string | null;
    users: number;
    failed: number;
  };
}

export interface DreamAllOutcome {
  runId: string;
  users: number;
  failed: number;
}

/** Users listed per activity call; the fan-out continues as new between pages when history grows. */
const USERS_PER_PAGE = 100;

/**
 * A tenant's dreaming: one child `dreamingWorkflow` per user with new
 * activity since their watermark, at most `concurrency` at a time. Users
 * without new activity never get a child (one indexed query finds the others).
 */
export async function dreamAllWorkflow(input: DreamAllWorkflowInput): Promise<DreamAllOutcome> {
  const windowEnd =
    input.carried?.windowEnd ?? input.windowEnd ?? workflowInfo().startTime.toISOString();
  const runId =
    input.carried?.runId ??
    (await bookkeeping.beginDreamAll({
      tenantId: input.tenantId,
      workflowId: workflowInfo().workflowId,
      windowEnd,
      runId: input.runId,
      dryRun: input.dryRun,
      tokenBudget: input.tokenBudget,
    }));
  let cursor = input.carried?.cursor ?? null;
  let users = input.carried?.users ?? 0;
  let failed = input.carried?.failed ?? 0;
  const concurrency = Math.max(1, input.concurrency ?? 4);

  const dreamUser = async (userId: string, found: number) => {
    let status: DreamStatus;
    try {
      const result = await executeChild(dreamingWorkflow, {
        workflowId: dreamWorkflowId(input.tenantId, userId, windowEnd),
        args: [
          {
            tenantId: input.tenantId,
            userId,
            windowEnd,
            dryRun: input.dryRun,
            tokenBudget: input.tokenBudget,
            pageConcurrency: input.pageConcurrency,
            parentRunId: runId,
          },
        ],
        typedSearchAttributes:
          input.searchAttributes === false
            ? []
            : [
                { key: TENANT_ID, value: input.tenantId },
                { key: USER_ID, value: userId },
                { key: RUN_KIND, value: 'dream' },
              ],
      });
      status = result.status;
    } catch {
      status = 'failed';
    }
    users++;
    if (status === 'failed') failed++;
    await bookkeeping.reportDreamAllProgress({ runId, userId, status, done: users, found });
  };

  for (;;) {
    const page = await bookkeeping.listDreamUsers({
      tenantId: input.tenantId,
      windowEnd,
      after: cursor,
      limit: USERS_PER_PAGE,
    });
    const found = users + page.userIds.length;
    const running = new Set<Promise<void>>();
    for (const userId of page.userIds) {
      if (running.size >= concurrency) await Promise.race(running);
      const task: Promise<void> = dreamUser(userId, found).finally(() => running.delete(task));
      running.add(task);
    }
    await Promise.all(running);
    cursor = page.next;
    if (!cursor) break;
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 10_000) {
      await continueAsNew<typeof dreamAllWorkflow>({
        ...input,
        carried: { runId, windowEnd, cursor, users, failed },
      });
    }
  }
  await bookkeeping.finishDreamAll({ runId, users, failed });
  return { runId, users, failed };
}

function describe(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return 'the dreaming run failed';
}
