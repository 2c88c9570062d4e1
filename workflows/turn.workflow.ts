import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineSignal,
  isCancellation,
  ParentClosePolicy,
  patched,
  startChild,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  ActivityFailure,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities';
import { FailureType, isProviderFailure } from '../src/failure-types';
import {
  LOCAL_MODEL_STEP,
  LOCAL_PERSIST,
  MODEL_STEP,
  PERSIST,
  TOOL_CALL,
} from './activity-options';
import { extractMemoriesWorkflow, memoryWorkflowId } from './memory.workflow';
import { RUN_KIND, TENANT_ID, USER_ID } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

const persist = proxyActivities<Activities>(PERSIST);
const persistLocally = proxyLocalActivities<Activities>(LOCAL_PERSIST);
const model = proxyActivities<Activities>(MODEL_STEP);
const modelLocally = proxyLocalActivities<Activities>(LOCAL_MODEL_STEP);
const tools = proxyActivities<Activities>(TOOL_CALL);

export interface TurnWorkflowInput {
  tenantId: string;
  sessionId: string;
  runId: string;
  /** Model steps before the turn must answer without tools. */
  maxSteps: number;
  /** The end user; a turn with one extracts memories once it is done. */
  userId?: string | null;
  /**
   * Set by the session for turns it starts now ({@link TURN_PROTOCOL}): such a
   * turn takes the current path without asking `patched()`, whose markers and
   * TemporalChangeVersion upserts would cost every turn history events and a
   * visibility write. Histories without it replay through their patches.
   */
  protocol?: number;
}

/**
 * The turn path every patch below leads to. 1: the current path without
 * `patched()`; 2: model steps also run as local activities.
 */
export const TURN_PROTOCOL = 2;

export type TurnOutcome = 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export type StopReason = 'cancelled' | 'interrupted';

/** Stop the turn; its partial text is kept, marked incomplete with this reason. */
export const stopTurnSignal = defineSignal<[{ reason: StopReason }]>('stopTurn');

/**
 * One chat turn: user message joins the history → model steps with a bounded
 * tool loop → assistant message → `done`. Deltas go to the run's event log from
 * the model activity, never through workflow history.
 */
export async function turnWorkflow(input: TurnWorkflowInput): Promise<TurnOutcome> {
  const { runId } = input;
  let stopReason: StopReason | undefined;
  const work = new CancellationScope();
  setHandler(stopTurnSignal, ({ reason }) => {
    stopReason ??= reason;
    work.cancel();
  });

  // Start and finish are short idempotent writes: as local activities they skip
  // two task-queue round trips each (time to first token, Temporal load).
  const current = (input.protocol ?? 0) >= 1;
  // A model step inside the workflow task: one task and five history events
  // instead of two tasks, a task-queue dispatch and eight events (Temporal
  // CPU per turn about halved). A stop reaches it through Postgres
  // (`runs.stop_requested`), as a signal waits for the task to end.
  const stepper = (input.protocol ?? 0) >= 2 ? modelLocally : model;
  const lifecycle = current || patched('turn-lifecycle-local-v1') ? persistLocally : persist;
  // Newer turns begin inside their first model step: one workflow task less before the first token.
  const beginInFirstStep = current || patched('turn-begin-in-step-v1');
  // ...and finish inside their last one: one workflow task less after the answer.
  const completeInLastStep = current || patched('turn-complete-in-step-v1');
  try {
    const answer = await work.run(async () => {
      if (!beginInFirstStep) await lifecycle.beginTurn({ runId });
      for (let step = 0; ; step++) {
        const result = await stepper.generateStep({
          runId,
          step,
          allowTools: step < input.maxSteps - 1,
          begin: beginInFirstStep && step === 0,
          complete: completeInLastStep,
        });
        if (result.toolCallCount === 0) return result;
        for (let index = 0; index < result.toolCallCount; index++) {
          await tools.executeTool({ runId, step, index });
        }
      }
    });
    if (!answer.completed) {
      // A stop that raced the last step's completion still wins, unless that
      // step already announced `done`: a finished answer stays finished.
      if (stopReason) throw new CancelledFailure(stopReason);
      await lifecycle.completeTurn({
        runId,
        messageId: answer.messageId,
        finishReason: answer.finishReason,
      });
    }
    if (input.userId && (current || patched('memory-v1')))
      await startMemoryExtraction(input, input.userId);
    return 'succeeded';
  } catch (err) {
    const stopped = stoppedBy(err);
    if (isCancellation(err) || stopReason || stopped) {
      const reason = stopReason ?? stopped ?? 'cancelled';
      await CancellationScope.nonCancellable(() => persist.abortTurn({ runId, status: reason }));
      return reason;
    }
    const error = describeFailure(err);
    await CancellationScope.nonCancellable(() =>
      persist.abortTurn({ runId, status: 'failed', error }),
    );
    return 'failed';
  }
}

/**
 * Memories are extracted after `done`, in a workflow of their own that this
 * turn abandons: the answer never waits for them, and the next queued turn
 * only for the start.
 */
async function startMemoryExtraction(input: TurnWorkflowInput, userId: string): Promise<void> {
  try {
    await startChild(extractMemoriesWorkflow, {
      workflowId: memoryWorkflowId(input.tenantId, input.runId),
      args: [{ tenantId: input.tenantId, runId: input.runId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: TENANT_ID, value: input.tenantId },
        { key: USER_ID, value: userId },
        { key: RUN_KIND, value: 'memory' },
      ],
    });
  } catch (err) {
    // Started before (a reset replayed past it): nothing to do.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** The reason of a step that ended because the turn was asked to stop. */
function stoppedBy(err: unknown): StopReason | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== FailureType.TurnStopped) return;
  const details = cause.details?.[0] as { reason?: StopReason } | undefined;
  return details?.reason === 'interrupted' ? 'interrupted' : 'cancelled';
}

function describeFailure(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    // Only the activity's result changes here, never a command: safe for replay.
    if (cause.type === FailureType.ModelNotFound)
      return { code: 'model_not_found', message: cause.message };
    const code = isProviderFailure(cause.type) ? 'provider_error' : 'turn_failed';
    return { code, message: cause.message };
  }
  return {
    code: 'turn_failed',
    message: cause instanceof Error ? cause.message : 'the turn failed',
  };
}
