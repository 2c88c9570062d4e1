import { withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import { factHash } from '../memory/content-hash';
import { findCurrentByHash } from '../memory/memory-store';
import { rememberFacts, type MemoryResult } from '../memory/remember';
import type { StepControl } from '../step-control';
import type { DreamDeps } from './dream-deps';
import {
  addDreamUsage,
  getStep,
  pageResults,
  recordChanges,
  saveStepResult,
  STEP,
  type NewChange,
} from './dream-store';
import { MOMENTS_PROMPT_VERSION } from './prompts';
import { STAGE, progress } from './stage-events';
import { openStage, type OpenStage } from './stage-opening';
import type { DreamStepResult, PageResult } from './stage-result';

/** Facts per consolidation call (the memory pipeline's own cap). */
const FACTS_PER_BATCH = 20;

type PageFact = PageResult['facts'][number];

/**
 * The facts stage: the candidate facts of every page into the user's
 * memories (ADD/UPDATE/DELETE/NOOP with history), a batch at a time. Each
 * batch commits with a marker step, so a retry resumes after the last
 * batch. A dry run only proposes what the cheap dedupe cannot rule out.
 */
export async function consolidateDreamFacts(
  deps: DreamDeps,
  control: StepControl,
  { runId }: { runId: string },
): Promise<DreamStepResult> {
  const opening = await openStage(deps, control, { runId, step: STEP.facts });
  if ('done' in opening) return opening.done;
  const { stage } = opening;
  const facts = (await pageResults(deps.pool, runId)).flatMap(
    (p) => (p.result as unknown as PageResult | null)?.facts ?? [],
  );
  const changes = stage.dryRun
    ? await proposeFacts(deps, stage, facts)
    : await rememberInBatches(deps, control, stage, facts);
  const result: DreamStepResult = { budgetExceeded: false, changes, warnings: 0 };
  await withTransaction(deps.pool, async (tx) => {
    await saveStepResult(tx, runId, STEP.facts, result);
    await appendRunEvents(tx, runId, [
      progress(STAGE.facts, 'completed', { facts: facts.length, changes }),
    ]);
  });
  return result;
}

/** Dry run: the memory pipeline has none, so propose what the cheap dedupe cannot rule out. */
async function proposeFacts(
  { pool }: DreamDeps,
  stage: OpenStage,
  facts: PageFact[],
): Promise<number> {
  const { scope, run } = stage;
  const proposed: NewChange[] = [];
  for (const fact of facts) {
    const hash = factHash(fact.content);
    if (await findCurrentByHash(pool, scope.tenantId, scope.userId, hash)) continue;
    proposed.push({
      changeKey: `memory:${hash}`,
      kind: 'memory',
      action: 'add',
      targetId: hash,
      after: { content: fact.content, category: fact.category },
      sourceMessageIds: fact.message_ids,
      model: run.model,
      promptVersion: MOMENTS_PROMPT_VERSION,
    });
  }
  await recordChanges(pool, stage.changes, proposed);
  return proposed.length;
}

/** @returns how many memories changed (NOOPs excluded) */
async function rememberInBatches(
  deps: DreamDeps,
  control: StepControl,
  stage: OpenStage,
  facts: PageFact[],
): Promise<number> {
  const { pool } = deps;
  const { scope, run } = stage;
  const runId = run.id;
  let changes = 0;
  for (let batch = 0; batch * FACTS_PER_BATCH < facts.length; batch++) {
    const marker = STEP.facts * 1000 - batch;
    if ((await getStep(pool, runId, marker))?.result) continue;
    const slice = facts.slice(batch * FACTS_PER_BATCH, (batch + 1) * FACTS_PER_BATCH);
    const sources = (text: string) =>
      slice.find((f) => f.content.trim().replace(/\s+/g, ' ') === text)?.message_ids ?? [];
    const stop = control.keepAlive();
    let outcome: Awaited<ReturnType<typeof rememberFacts>>;
    try {
      outcome = await rememberFacts(
        deps,
        {
          tenantId: scope.tenantId,
          userId: scope.userId,
          facts: slice.map((f) => ({ text: f.content, category: f.category })),
          source: 'dreaming',
          runId,
          messageIds: [...new Set(slice.flatMap((f) => f.message_ids))].slice(0, 500),
          model: run.model,
          finalize: async (tx, result) => {
            const recorded = memoryChanges(result.results, sources, run.model);
            await recordChanges(tx, stage.changes, recorded);
            await saveStepResult(tx, runId, marker, { changes: recorded.length });
          },
        },
        control.signal,
      );
    } finally {
      stop();
    }
    if (outcome.usage.model_calls > 0)
      await addDreamUsage(pool, runId, outcome.usage, outcome.usage.model_calls);
    changes += outcome.results.filter((r) => r.event !== 'NOOP').length;
  }
  return changes;
}

/** Change-log entries for what the memory pipeline did (NOOPs change nothing). */
function memoryChanges(
  results: MemoryResult[],
  sources: (text: string) => string[],
  model: string | null,
): NewChange[] {
  const changes: NewChange[] = [];
  for (const r of results) {
    if (r.event === 'NOOP' || !r.id) continue;
    const action = r.event === 'ADD' ? 'add' : r.event === 'UPDATE' ? 'update' : 'invalidate';
    changes.push({
      changeKey: `memory:${r.id}:${r.event}`,
      kind: 'memory',
      action,
      targetId: r.id,
      before: r.event === 'ADD' ? null : { content: r.previous_memory ?? r.memory },
      after: r.event === 'DELETE' ? null : { content: r.memory },
      sourceMessageIds: sources(r.memory),
      model,
      promptVersion: 'memory-consolidation',
    });
  }
  return changes;
}
