import type { z } from 'zod';
import type { StepControl } from '../step-control';
import type { DreamDeps } from './dream-deps';
import { changeScope, loadDreamRun, overBudget, scopeOf, type DreamScope } from './dream-run';
import { addDreamUsage, getStep, type DreamRunRow, type StepRow } from './dream-store';
import { runJsonStep, type JsonStepRequest, type JsonStepResult } from './json-step';
import { OVER_BUDGET, type DreamStepResult } from './stage-result';

/**
 * The opening every stage of a user's dreaming run shares: find the step's
 * stored result (a retry returns it, nothing runs twice), load the run,
 * skip the stage when the run has spent its budget, and give the stage its
 * scope, dry-run flag and model call.
 */

/** A stage that has to run. */
export interface OpenStage {
  run: DreamRunRow;
  scope: DreamScope;
  /** Where the stage records its changes (applied unless a dry run). */
  changes: ReturnType<typeof changeScope>;
  /** Propose changes only: nothing the user sees is written. */
  dryRun: boolean;
  /** The step's row (a page's planned episodes); undefined for stages not planned ahead. */
  row: StepRow | undefined;
  /**
   * One structured model call with the run's model (the run's, else the
   * dreaming model, else the default): keeps the activity alive while it
   * runs, honours cancellation, and adds every call's usage to the run.
   */
  askJson<S extends z.ZodType>(
    request: Omit<JsonStepRequest<S>, 'signal' | 'onCall'>,
  ): Promise<JsonStepResult<z.infer<S>>>;
}

/** What opening a stage gives: its result when it has nothing to do, else the open stage. */
export type StageOpening = { done: DreamStepResult } | { stage: OpenStage };

/** Which stage to open, and how it resumes. */
export interface StageRequest {
  runId: string;
  /** The step number: a page (0…n-1) or one of `STEP`. */
  step: number;
  /** Skip the stage once the run has spent its token budget. @default true */
  budgeted?: boolean;
  /** The step must have been planned (pages): a missing row is a bug, not a skip. */
  planned?: boolean;
  /** How a stored result reads back. @default the stored object itself */
  resume?: (stored: Record<string, unknown>) => DreamStepResult;
}

/**
 * Open a stage: `{ done }` when it has nothing to do (already ran, or the run
 * is over budget), else `{ stage }`.
 * @throws Error when a planned step was never planned
 * @throws NonRetryableError `RunGone` when the run no longer exists
 */
export async function openStage(
  deps: DreamDeps,
  control: StepControl,
  request: StageRequest,
): Promise<StageOpening> {
  const { pool, config, models } = deps;
  const { runId, step } = request;
  const row = await getStep(pool, runId, step);
  if (request.planned && !row)
    throw new Error(`page ${step} of dreaming run ${runId} was never planned`);
  if (row?.result) {
    const stored = row.result;
    return {
      done: request.resume ? request.resume(stored) : (stored as unknown as DreamStepResult),
    };
  }
  const run = await loadDreamRun(pool, runId);
  if ((request.budgeted ?? true) && overBudget(run)) return { done: { ...OVER_BUDGET } };
  return {
    stage: {
      run,
      scope: scopeOf(run),
      changes: changeScope(run),
      dryRun: run.input.dry_run,
      row,
      async askJson(jsonRequest) {
        const chain = models.chainFor(run.model ?? config.dreaming.model ?? models.defaultModel);
        const stop = control.keepAlive();
        try {
          return await runJsonStep(chain, {
            ...jsonRequest,
            signal: control.signal,
            onCall: (usage) => addDreamUsage(pool, runId, usage),
          });
        } finally {
          stop();
        }
      },
    },
  };
}
