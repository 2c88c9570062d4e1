import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { StepControl } from '../step-control';
import type { DreamDeps } from './dream-deps';
import { lockUnsavedStep, recordChanges, saveStepResult, type NewChange } from './dream-store';
import type { Episode } from './episodes';
import {
  draftMoments,
  loadMessages,
  momentsPromptInput,
  momentText,
  upsertMoment,
  type MomentDraft,
} from './moments';
import { MOMENTS_PROMPT_VERSION, MOMENTS_SYSTEM } from './prompts';
import { MomentsAnswer } from './schemas';
import { STAGE, progress, warningEvents } from './stage-events';
import { openStage, type OpenStage } from './stage-opening';
import { summarisePage, type DreamStepResult, type PageResult } from './stage-result';

/**
 * The moments stage, one page at a time: one model call turns the page's
 * episodes into moments (stored and embedded, or proposed in a dry run) and
 * candidate facts (kept in the page's result for the facts stage).
 * Idempotent: the page's result commits with its writes; a retry returns it.
 */
export async function dreamPage(
  deps: DreamDeps,
  control: StepControl,
  { runId, page }: { runId: string; page: number },
): Promise<DreamStepResult> {
  const opening = await openStage(deps, control, {
    runId,
    step: page,
    planned: true,
    resume: (stored) => summarisePage(stored as unknown as PageResult),
  });
  if ('done' in opening) return opening.done;
  const { stage } = opening;
  const ids = stage.row!.episodes.flatMap((e) => e.message_ids);
  const messages = new Map(
    (await loadMessages(deps.pool, stage.run.tenant_id, ids)).map((m) => [m.id, m]),
  );
  const episodes = stage
    .row!.episodes.map((e) => ({
      ...e,
      message_ids: e.message_ids.filter((id) => messages.has(id)),
      chars: 0,
    }))
    .filter((e) => e.message_ids.length > 0);

  const answer = await stage.askJson({
    system: MOMENTS_SYSTEM,
    user: momentsPromptInput(stage.scope.userId, episodes, messages),
    schema: MomentsAnswer,
  });
  const warnings = answer.warnings.map((w) => `page ${page + 1}: ${w}`);
  let drafts: MomentDraft[] = [];
  let facts: PageResult['facts'] = [];
  if (answer.value) {
    const drafted = draftMoments(stage.scope, episodes, messages, answer.value);
    drafts = drafted.drafts;
    if (drafted.missing.length)
      warnings.push(`page ${page + 1}: no moment for episodes ${drafted.missing.join(', ')}`);
    facts = citedFacts(answer.value.facts, episodes, new Set(ids));
  } else {
    warnings.push(`page ${page + 1}: skipped, the model gave no valid answer`);
  }
  const vectors = drafts.length ? await deps.embedder.embed(drafts.map(momentText)) : [];

  const result: PageResult = {
    moments: drafts.map((d) => ({
      id: d.id,
      title: d.title,
      summary: d.summary,
      topics: d.topics,
      entities: d.entities,
      starts_at: d.starts_at,
      source_message_ids: d.source_message_ids,
    })),
    facts,
    warnings,
    model: answer.model,
  };
  await withTransaction(deps.pool, async (tx) => {
    // Serialise with a retry of this very page that raced us.
    if (!(await lockUnsavedStep(tx, runId, page))) return;
    const changes = await writeMoments(tx, stage, drafts, vectors, answer.model);
    await recordChanges(tx, stage.changes, changes);
    await saveStepResult(tx, runId, page, result);
    await appendRunEvents(tx, runId, [
      progress(STAGE.moments, 'in_progress', {
        page: page + 1,
        moments: drafts.length,
        facts: facts.length,
      }),
      ...warningEvents(warnings),
    ]);
  });
  return summarisePage(result);
}

/**
 * The answer's facts with the page's messages they cite; a fact that cites
 * none of them falls back to the messages of its episode.
 */
function citedFacts(
  answered: MomentsAnswer['facts'],
  episodes: Pick<Episode, 'message_ids'>[],
  pageIds: Set<string>,
): PageResult['facts'] {
  return answered.map((fact) => {
    const episode = fact.episode ? episodes[Number(fact.episode.replace(/^e/, '')) - 1] : undefined;
    const cited = (fact.message_ids ?? []).filter((id) => pageIds.has(id));
    return {
      content: fact.content,
      category: fact.category ?? null,
      message_ids: cited.length ? cited : (episode?.message_ids ?? []),
    };
  });
}

/**
 * Store the drafted moments (a dry run only proposes them) and say what
 * changed; a moment that is already stored as drafted changes nothing.
 */
async function writeMoments(
  tx: Parameters<typeof recordChanges>[0],
  stage: OpenStage,
  drafts: MomentDraft[],
  vectors: number[][],
  model: string,
): Promise<NewChange[]> {
  const changes: NewChange[] = [];
  for (const [i, draft] of drafts.entries()) {
    const provenance = {
      sourceMessageIds: draft.source_message_ids,
      model,
      promptVersion: MOMENTS_PROMPT_VERSION,
    };
    const after = {
      title: draft.title,
      summary: draft.summary,
      topics: draft.topics,
      entities: draft.entities,
      starts_at: draft.starts_at,
      ends_at: draft.ends_at,
    };
    if (stage.dryRun) {
      changes.push({
        changeKey: `moment:${draft.key}`,
        kind: 'moment',
        action: 'add',
        targetId: draft.id,
        after,
        ...provenance,
      });
      continue;
    }
    const outcome = await upsertMoment(
      tx,
      { ...stage.scope, model, promptVersion: MOMENTS_PROMPT_VERSION },
      draft,
      vectors[i],
    );
    if (outcome.action === 'noop') continue;
    changes.push({
      changeKey: `moment:${draft.key}`,
      kind: 'moment',
      action: outcome.action,
      targetId: draft.id,
      before: outcome.before,
      after,
      ...provenance,
    });
  }
  return changes;
}
