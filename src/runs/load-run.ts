import type { Queryable } from '../db/pool';
import type { RunRow } from '../db/runs';
import { maybeOne } from '../db/sql';
import { FailureType } from '../failure-types';
import { NonRetryableError } from '../non-retryable-error';

/**
 * The run a step works on.
 * @throws NonRetryableError `RunGone` when the run no longer exists (its
 * session was deleted): it will not come back, so retrying is pointless.
 */
export async function loadRun(db: Queryable, runId: string): Promise<RunRow> {
  const run = await maybeOne<RunRow>(db, 'select * from runs where id = $1', [runId]);
  if (!run) throw new NonRetryableError(FailureType.RunGone, `run ${runId} no longer exists`);
  return run;
}
