import {
  abortTurnRun,
  completeTurnRun,
  beginTurnRun,
  type AbortedTurn,
  type CompletedTurn,
} from '../src/turns/turn-lifecycle';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';

/** Lifecycle writes of a turn: start, finish, abort (src/turns/turn-lifecycle.ts). Each is idempotent. */
export function createTurnActivities({ pool }: ActivityDeps) {
  return mapFailures({
    /**
     * The run starts (histories recorded before `turn-begin-in-step-v1`; newer
     * turns begin inside their first model step).
     */
    async beginTurn({ runId }: { runId: string }): Promise<void> {
      await beginTurnRun(pool, runId);
    },

    /** The run succeeded (histories recorded before `turn-complete-in-step-v1`). */
    async completeTurn(input: CompletedTurn): Promise<void> {
      await completeTurnRun(pool, input);
    },

    /**
     * The run ends without an answer: cancelled, interrupted or failed. Text that
     * was already streamed is kept as an incomplete assistant message.
     */
    async abortTurn(input: AbortedTurn): Promise<void> {
      await abortTurnRun(pool, input);
    },
  });
}
