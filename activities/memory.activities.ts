import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../src/failure-types';
import {
  extractRunMemories,
  failMemoryRun,
  type ExtractMemoriesResult,
} from '../src/memory/extract-memories';
import { ProviderError } from '../src/providers/provider-error';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';

/** Workflows import the activity's result type from here; it lives in src/memory/. */
export type { ExtractMemoriesResult } from '../src/memory/extract-memories';

/** Long-term memory: extract facts from a turn (or an API request) and consolidate them (src/memory/extract-memories.ts). */
export function createMemoryActivities(deps: ActivityDeps) {
  return mapFailures({
    /**
     * Extract and consolidate the memories of a run: a finished turn (its user
     * and assistant messages) or a `memory` run from the API. Idempotent: the
     * outcome commits with the writes, and a retry returns it.
     * @throws ApplicationFailure `ProviderError` (non-retryable) when the provider refuses
     */
    async extractMemories({ runId }: { runId: string }): Promise<ExtractMemoriesResult> {
      try {
        return await extractRunMemories(deps, runId, Context.current().cancellationSignal);
      } catch (err) {
        throw asFailure(err);
      }
    },

    /** A `memory` run that could not finish: recorded as failed with an `error` and `done`. */
    async failMemoryRun(input: {
      runId: string;
      error: { code: string; message: string };
    }): Promise<void> {
      await failMemoryRun(deps, input);
    },
  });
}

/** Provider failures keep their retryability; anything else is transient (a retry is safe). */
function asFailure(err: unknown): unknown {
  if (err instanceof ProviderError && !err.retryable) {
    return ApplicationFailure.nonRetryable(err.message, FailureType.ProviderError, {
      status: err.status,
    });
  }
  return err;
}
