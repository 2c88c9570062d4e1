import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  ApplicationFailure,
  ChildWorkflowCancellationType,
  type ChildWorkflowHandle,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { FailureType } from '../src/failure-types';
import { PERSIST } from './activity-options';
import { RUN_KIND, SESSION_ID, TENANT_ID, USER_ID } from './search-attributes';
import { turnWorkflow, stopTurnSignal, type StopReason } from './turn.workflow';

/** Turns the entity starts take protocol 1 ({@link turnWorkflow}). */
const ENTITY_TURN_PROTOCOL = 1;

type Activities = ReturnType<typeof createActivities>;
const persist = proxyActivities<Activities>(PERSIST);

export type MultitaskStrategy = 'reject' | 'enqueue' | 'interrupt';

export interface SubmitTurnRequest {
  runId: string;
  userId: string | null;
  strategy: MultitaskStrategy;
}

export interface SubmitTurnResult {
  runId: string;
  /** Where the run stands right after it was accepted. */
  position: 'running' | 'queued';
}

export interface SessionState {
  current: string | null;
  queue: string[];
  turnsInThisRun: number;
}

interface QueuedTurn {
  runId: string;
  userId: string | null;
}

interface CarriedState {
  queue: QueuedTurn[];
  recentRunIds: string[];
}

export interface SessionWorkflowInput {
  tenantId: string;
  sessionId: string;
  maxSteps: number;
  /** Continue-as-new after this many turns, so history stays bounded. */
  turnsBeforeContinueAsNew: number;
  /** Finish after this long without turns; the next turn starts it again. */
  idleTimeoutMs?: number;
  carried?: CarriedState;
}

/** Submit a turn (used with update-with-start). Rejected when `reject` finds a turn running. */
export const submitTurnUpdate = defineUpdate<SubmitTurnResult, [SubmitTurnRequest]>('submitTurn');
/** Cancel a queued or running turn of this session. */
export const cancelRunSignal = defineSignal<[{ runId: string; reason: StopReason }]>('cancelRun');
export const getSessionStateQuery = defineQuery<SessionState>('getState');

/** Enough to recognise a retried submit across continue-as-new. */
const RECENT_RUN_IDS = 256;

/** The workflow id of a session entity. */
export function sessionWorkflowId(tenantId: string, sessionId: string): string {
  return `session:${tenantId}:${sessionId}`;
}

/** The workflow id of a turn. */
export function turnWorkflowId(tenantId: string, runId: string): string {
  return `turn:${tenantId}:${runId}`;
}

/**
 * The long-lived entity of one chat session: receives turns, runs them one at a
 * time as child `turnWorkflow`s, applies the multitask strategy, and continues
 * as new before its history grows large.
 */
export async function sessionWorkflow(input: SessionWorkflowInput): Promise<void> {
  const { tenantId } = input;
  const queue: QueuedTurn[] = [...(input.carried?.queue ?? [])];
  const recentRunIds: string[] = [...(input.carried?.recentRunIds ?? [])];
  let current: QueuedTurn | null = null;
  let turnsInThisRun = 0;

  const known = (runId: string) =>
    current?.runId === runId ||
    queue.some((t) => t.runId === runId) ||
    recentRunIds.includes(runId);

  // A stop that arrives before the child has started is applied once it has.
  let pendingStop: StopReason | undefined;
  let currentStarted = false;
  const stopCurrent = (reason: StopReason) => {
    if (!current) return;
    if (!currentStarted) {
      pendingStop ??= reason;
      return;
    }
    void getExternalWorkflowHandle(turnWorkflowId(tenantId, current.runId))
      .signal(stopTurnSignal, { reason })
      .catch(() => undefined); // the turn may have just finished
  };

  setHandler(
    submitTurnUpdate,
    (req) => {
      if (!known(req.runId)) {
        if (req.strategy === 'interrupt') stopCurrent('interrupted');
        queue.push({ runId: req.runId, userId: req.userId });
        remember(recentRunIds, req.runId);
      }
      const running = current?.runId === req.runId;
      return { runId: req.runId, position: running ? 'running' : 'queued' };
    },
    {
      validator: (req: SubmitTurnRequest) => {
        // A retried submit of a known run is always accepted (idempotent).
        if (known(req.runId)) return;
        if (req.strategy === 'reject' && (current || queue.length > 0)) {
          throw ApplicationFailure.nonRetryable(
            'a turn is already running in this session',
            FailureType.RunInProgress,
            {
              runId: current?.runId ?? queue[0]?.runId,
            },
          );
        }
      },
    },
  );

  setHandler(cancelRunSignal, async ({ runId, reason }) => {
    if (current?.runId === runId) {
      stopCurrent(reason);
      return;
    }
    const index = queue.findIndex((t) => t.runId === runId);
    if (index >= 0) {
      queue.splice(index, 1);
      // Settled right away, not behind the running turn.
      await persist.abortTurn({ runId, status: 'cancelled' });
    }
  });

  setHandler(getSessionStateQuery, () => ({
    current: current?.runId ?? null,
    queue: queue.map((t) => t.runId),
    turnsInThisRun,
  }));

  for (;;) {
    const gotWork = await condition(() => queue.length > 0, input.idleTimeoutMs ?? 60 * 60 * 1000);
    if (!gotWork) {
      // Idle: finish, unless a turn slipped in while handlers were finishing.
      await condition(allHandlersFinished);
      if (queue.length === 0) return;
      continue;
    }
    const next = queue.shift();
    if (!next) continue;
    current = next;
    currentStarted = false;
    pendingStop = undefined;
    const child = await startTurn(input, next);
    if (!child) {
      // Started before (a resubmitted run reaching a new session run): it is
      // already running or done on its own.
      current = null;
      continue;
    }
    currentStarted = true;
    if (pendingStop) stopCurrent(pendingStop);
    try {
      await child.result();
    } catch {
      // The turn records its own failures; one that died anyway (terminated,
      // timed out) must not leave its run looking alive.
      await persist.abortTurn({
        runId: next.runId,
        status: 'failed',
        error: { code: 'turn_failed', message: 'the turn workflow ended without finishing' },
      });
    }
    current = null;
    turnsInThisRun++;
    if (turnsInThisRun >= input.turnsBeforeContinueAsNew || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof sessionWorkflow>({
        ...input,
        carried: { queue: [...queue], recentRunIds: [...recentRunIds] },
      });
    }
  }
}

/** Start the run's turn as a child; undefined when it was started before (it runs on its own). */
async function startTurn(
  input: SessionWorkflowInput,
  next: QueuedTurn,
): Promise<ChildWorkflowHandle<typeof turnWorkflow> | undefined> {
  const { tenantId, sessionId } = input;
  try {
    return await startChild(turnWorkflow, {
      workflowId: turnWorkflowId(tenantId, next.runId),
      args: [
        {
          tenantId,
          sessionId,
          runId: next.runId,
          maxSteps: input.maxSteps,
          userId: next.userId,
          // Its model steps stay activities: the entity stops its turns by signal.
          protocol: ENTITY_TURN_PROTOCOL,
        },
      ],
      // A turn outlives anything that happens to its session entity.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      cancellationType: ChildWorkflowCancellationType.ABANDON,
      typedSearchAttributes: [
        { key: TENANT_ID, value: tenantId },
        { key: SESSION_ID, value: sessionId },
        { key: USER_ID, value: next.userId ?? '' },
        { key: RUN_KIND, value: 'turn' },
      ],
      // One run, one turn: never a second execution for the same run id.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return undefined;
  }
}

function remember(list: string[], runId: string): void {
  list.push(runId);
  if (list.length > RECENT_RUN_IDS) list.splice(0, list.length - RECENT_RUN_IDS);
}
