import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  ActivityFailure,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { MODEL_STEP, PERSIST, TOOL_CALL } from './activity-options';

type Activities = ReturnType<typeof createActivities>;

const persist = proxyActivities<Activities>(PERSIST);
const model = proxyActivities<Activities>(MODEL_STEP);
const tools = proxyActivities<Activities>(TOOL_CALL);

export interface TurnWorkflowInput {
  tenantId: string;
  sessionId: string;
  runId: string;
  /** Model steps before the turn must answer without tools. */
  maxSteps: number;
}

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

  try {
    const answer = await work.run(async () => {
      await persist.beginTurn({ runId });
      for (let step = 0; ; step++) {
        const result = await model.generateStep({
          runId,
          step,
          allowTools: step < input.maxSteps - 1,
        });
        if (result.toolCallCount === 0) return result;
        for (let index = 0; index < result.toolCallCount; index++) {
          await tools.executeTool({ runId, step, index });
        }
      }
    });
    // A stop that raced the last step's completion still wins.
    if (stopReason) throw new CancelledFailure(stopReason);
    await persist.completeTurn({
      runId,
      messageId: answer.messageId,
      finishReason: answer.finishReason,
    });
    return 'succeeded';
  } catch (err) {
    if (isCancellation(err) || stopReason) {
      const reason = stopReason ?? 'cancelled';
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

function describeFailure(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const code = cause.type?.startsWith('Provider') ? 'provider_error' : 'turn_failed';
    return { code, message: cause.message };
  }
  return {
    code: 'turn_failed',
    message: cause instanceof Error ? cause.message : 'the turn failed',
  };
}
