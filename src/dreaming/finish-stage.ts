import { finishRun } from '../db/runs';
import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { NewRunEvent } from '../events/types';
import type { DreamDeps } from './dream-deps';
import { loadDreamRun } from './dream-run';
import { advanceWatermark, changeCounts, type DreamRunRow } from './dream-store';

/** How a user's dreaming run ended, as the workflow saw it. */
export interface FinishDreamInput {
  runId: string;
  status: 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
  reason: string;
  error?: { code: string; message: string };
}

/**
 * End a user's dreaming run. A run that succeeded (and is not a dry run)
 * moves the watermark to its window end in the same commit: nothing is
 * skipped if any step before failed. Status, usage and `done` commit once.
 */
export async function finishDream({ pool }: DreamDeps, input: FinishDreamInput): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const run = await loadDreamRun(tx, input.runId);
    if (input.status === 'succeeded' && !run.input.dry_run && run.input.user_id) {
      await advanceWatermark(tx, run.tenant_id, run.input.user_id, run.input.window_end, run.id);
    }
    const finished = (await finishRun(tx, input.runId, {
      status: input.status,
      error: input.error ?? null,
    })) as unknown as DreamRunRow | undefined;
    if (!finished) return;
    const events: NewRunEvent[] = [];
    if (input.error) events.push({ type: 'error', data: input.error });
    events.push({
      type: 'usage',
      data: {
        prompt_tokens: finished.usage.prompt_tokens ?? 0,
        completion_tokens: finished.usage.completion_tokens ?? 0,
        total_tokens: finished.usage.total_tokens ?? 0,
      },
    });
    events.push({
      type: 'done',
      data: {
        reason: input.reason,
        message_id: null,
        dry_run: run.input.dry_run,
        changes: await changeCounts(tx, run.id),
      },
    });
    await appendRunEvents(tx, run.id, events);
  });
}
