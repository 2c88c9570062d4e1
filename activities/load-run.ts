import { ApplicationFailure } from '@temporalio/activity';
import type { Queryable } from '../src/db/pool';
import { maybeOne } from '../src/db/sql';
import type { RunRow } from '../src/db/runs';

/**
 * The run an activity works on. A run that no longer exists (its session was
 * deleted) will not come back: fail without retrying.
 */
export async function loadRun(db: Queryable, runId: string): Promise<RunRow> {
  const run = await maybeOne<RunRow>(db, 'select * from runs where id = $1', [runId]);
  if (!run) throw ApplicationFailure.nonRetryable(`run ${runId} no longer exists`, 'RunGone');
  return run;
}
