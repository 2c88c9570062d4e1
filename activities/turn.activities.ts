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
export function createTurnActivities({ pool, turnStarter }: ActivityDeps) {
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
      const next = await completeTurnRun(pool, input);
      if (next) await turnStarter?.start(next);
    },

    /**
     * The run ends without an answer: cancelled, interrupted or failed. Text that
     * was already streamed is kept as an incomplete assistant message.
     */
    async abortTurn(input: AbortedTurn): Promise<void> {
      // A retry after the commit finds the hand-off still to start, and starts it.
      const next = await abortTurnRun(pool, input);
      if (next) await turnStarter?.start(next);
    },
  });
}
