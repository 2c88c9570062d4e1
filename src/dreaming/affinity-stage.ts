import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { StepControl } from '../step-control';
import { computeAffinity, linkKey, upsertAffinity } from './affinity';
import type { DreamDeps } from './dream-deps';
import { pageResults, recordChanges, saveStepResult, STEP } from './dream-store';
import { STAGE, progress } from './stage-events';
import { openStage } from './stage-opening';
import type { DreamStepResult, PageResult } from './stage-result';

/**
 * The affinity stage: links from this run's moments to related moments and
 * files (no model call, so it runs even over budget). New links are
 * recorded as changes; links, result and event commit together.
 */
export async function linkDreamAffinity(
  deps: DreamDeps,
  control: StepControl,
  { runId }: { runId: string },
): Promise<DreamStepResult> {
  const opening = await openStage(deps, control, { runId, step: STEP.affinity, budgeted: false });
  if ('done' in opening) return opening.done;
  const { stage } = opening;
  const { scope } = stage;
  const momentIds = (await pageResults(deps.pool, runId)).flatMap(
    (p) => (p.result as unknown as PageResult | null)?.moments.map((m) => m.id) ?? [],
  );
  // A dry run stored no moments to link.
  const links = stage.dryRun ? [] : await computeAffinity(deps.pool, scope, momentIds);
  return withTransaction(deps.pool, async (tx) => {
    const fresh = await upsertAffinity(tx, scope, links);
    await recordChanges(
      tx,
      stage.changes,
      fresh.map((l) => ({
        changeKey: `affinity:${linkKey(l)}`,
        kind: 'affinity',
        action: 'add',
        targetId: linkKey(l),
        after: {
          source_id: l.sourceId,
          target_type: l.targetType,
          target_id: l.targetId,
          score: l.score,
          similarity: l.similarity,
          shared_entities: l.sharedEntities,
        },
      })),
    );
    const result = { budgetExceeded: false, changes: fresh.length, warnings: 0 };
    await saveStepResult(tx, runId, STEP.affinity, result);
    await appendRunEvents(tx, runId, [
      progress(STAGE.affinity, 'completed', { links: links.length, new_links: fresh.length }),
    ]);
    return result;
  });
}
