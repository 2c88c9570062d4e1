import type pg from 'pg';
import { many, withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { NewRunEvent } from '../events/types';
import type { StepControl } from '../step-control';
import type { DreamDeps } from './dream-deps';
import {
  lockUnsavedStep,
  pageResults,
  recordChanges,
  saveStepResult,
  STEP,
  type NewChange,
} from './dream-store';
import { checkEvidence, diffProfile, evidenceOf, getUserProfile, saveProfile } from './profile';
import { PROFILE_PROMPT_VERSION, PROFILE_SYSTEM } from './prompts';
import { ProfileAnswer } from './schemas';
import { STAGE, progress, warningEvents } from './stage-events';
import { openStage, type OpenStage } from './stage-opening';
import type { DreamStepResult, PageResult } from './stage-result';

/** What a profile step is shown at most. */
const PROFILE_MOMENTS = 60;
const PROFILE_MEMORIES = 50;
const PROFILE_FILES = 50;

type ProfileMoment = PageResult['moments'][number];

/** What the model is shown: this run's latest moments, current memories, the window's new files. */
interface ProfileInputs {
  moments: ProfileMoment[];
  memories: { id: string; content: string }[];
  files: { id: string; filename: string }[];
}

/**
 * The profile stage: the user's profile from this run's moments, current
 * memories and new files, with evidence ids (ids the model was not shown are
 * dropped). Changed fields are recorded; a dry run only records them.
 * Idempotent: the result commits with the writes; a retry returns it.
 */
export async function buildDreamProfile(
  deps: DreamDeps,
  control: StepControl,
  { runId }: { runId: string },
): Promise<DreamStepResult> {
  const opening = await openStage(deps, control, { runId, step: STEP.profile });
  if ('done' in opening) return opening.done;
  const { stage } = opening;
  const { scope } = stage;
  const inputs = await loadInputs(deps, stage);
  const { moments, memories, files } = inputs;
  const previous = await getUserProfile(deps.pool, scope.tenantId, scope.userId);
  const finish = (
    result: DreamStepResult,
    events: NewRunEvent[],
    write?: (tx: pg.PoolClient) => Promise<void>,
  ) => finishProfile(deps, runId, result, events, write);
  if (moments.length === 0 && files.length === 0)
    return finish({ budgetExceeded: false, changes: 0, warnings: 0 }, []);

  const answer = await stage.askJson({
    system: PROFILE_SYSTEM,
    user: {
      user_id: scope.userId,
      previous_profile: previous?.profile ?? null,
      moments: moments.map((m) => ({
        id: m.id,
        title: m.title,
        summary: m.summary,
        topics: m.topics,
        entities: m.entities,
        at: m.starts_at,
      })),
      memories,
      files,
    },
    schema: ProfileAnswer,
  });
  const warnings = answer.warnings.map((w) => `profile: ${w}`);
  if (!answer.value) {
    warnings.push('profile: skipped, the model gave no valid answer');
    return finish(
      { budgetExceeded: false, changes: 0, warnings: warnings.length },
      warningEvents(warnings),
    );
  }
  const known = new Set([
    ...moments.map((m) => m.id),
    ...memories.map((m) => m.id),
    ...files.map((f) => f.id),
  ]);
  const { profile, unknown } = checkEvidence(answer.value, known);
  if (unknown.length)
    warnings.push(`profile: dropped ${unknown.length} evidence ids the model was not shown`);
  const evidence = evidenceOf(profile);
  const sourcesOf = (ids: string[]) =>
    [
      ...new Set(moments.filter((m) => ids.includes(m.id)).flatMap((m) => m.source_message_ids)),
    ].slice(0, 200);
  const diffs = diffProfile(previous?.profile, profile);
  const changes: NewChange[] = diffs.map((d) => ({
    changeKey: `profile:${d.field}`,
    kind: 'profile',
    action: 'set',
    targetId: scope.userId,
    field: d.field,
    before: d.before,
    after: d.after,
    sourceMessageIds: sourcesOf(evidence[d.field] ?? moments.map((m) => m.id)),
    model: answer.model,
    promptVersion: PROFILE_PROMPT_VERSION,
  }));
  return finish(
    { budgetExceeded: false, changes: changes.length, warnings: warnings.length },
    warningEvents(warnings),
    async (tx) => {
      if (!stage.dryRun && changes.length > 0) await saveProfile(tx, scope, profile, evidence);
      await recordChanges(tx, stage.changes, changes);
    },
  );
}

async function loadInputs({ pool }: DreamDeps, { run, scope }: OpenStage): Promise<ProfileInputs> {
  const pages = (await pageResults(pool, run.id)).map(
    (p) => p.result as unknown as PageResult | null,
  );
  const moments = pages
    .flatMap((p) => p?.moments ?? [])
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
    .slice(-PROFILE_MOMENTS);
  const memories = await many<{ id: string; content: string }>(
    pool,
    `select id, content from memories where tenant_id = $1 and user_id = $2 and valid_to is null
     order by updated_at desc limit $3`,
    [scope.tenantId, scope.userId, PROFILE_MEMORIES],
  );
  const files = await many<{ id: string; filename: string }>(
    pool,
    `select id, filename from files where tenant_id = $1 and user_id = $2 and status = 'ready'
       and created_at > coalesce($3::timestamptz, '-infinity') and created_at <= $4::timestamptz
     order by created_at desc limit $5`,
    [
      scope.tenantId,
      scope.userId,
      run.input.watermark_from ?? null,
      run.input.window_end,
      PROFILE_FILES,
    ],
  );
  return { moments, memories, files };
}

/** The stage's writes, result and events in one commit, unless a racing retry committed first. */
async function finishProfile(
  { pool }: DreamDeps,
  runId: string,
  result: DreamStepResult,
  events: NewRunEvent[],
  write?: (tx: pg.PoolClient) => Promise<void>,
): Promise<DreamStepResult> {
  await withTransaction(pool, async (tx) => {
    if (!(await lockUnsavedStep(tx, runId, STEP.profile))) return;
    await write?.(tx);
    await saveStepResult(tx, runId, STEP.profile, result);
    await appendRunEvents(tx, runId, [
      ...events,
      progress(STAGE.profile, 'completed', { changes: result.changes }),
    ]);
  });
  return result;
}
