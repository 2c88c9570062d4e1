import { consolidateDreamFacts } from '../src/dreaming/facts-stage';
import { linkDreamAffinity } from '../src/dreaming/affinity-stage';
import {
  beginDreamAll,
  finishDreamAll,
  listDreamUsers,
  reportDreamAllProgress,
  type BeginDreamAllInput,
  type DreamAllProgress,
  type DreamUsersPage,
} from '../src/dreaming/fan-out';
import { finishDream, type FinishDreamInput } from '../src/dreaming/finish-stage';
import { dreamPage } from '../src/dreaming/moments-stage';
import { buildDreamProfile } from '../src/dreaming/profile-stage';
import type { DreamStepResult } from '../src/dreaming/stage-result';
import {
  beginDream,
  type BeginDreamInput,
  type BeginDreamResult,
} from '../src/dreaming/window-stage';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';
import { activityControl } from './activity-control';

export type { DreamRunInput } from '../src/dreaming/dream-store';
export type { DreamStepResult } from '../src/dreaming/stage-result';
export type { BeginDreamInput, BeginDreamResult } from '../src/dreaming/window-stage';

/** A dreaming step's model call heartbeats this often, so a lost worker is noticed in seconds. */
const HEARTBEAT_MS = 1000;

/**
 * The activities of `dreamingWorkflow` and `dreamAllWorkflow`: adapters
 * around the stages in src/dreaming/ (window, moments, facts, profile,
 * affinity, finish, fan-out). Each is idempotent per run.
 */
export function createDreamingActivities(deps: ActivityDeps) {
  const control = () => activityControl(HEARTBEAT_MS);

  return mapFailures({
    /**
     * Create (or find) the run, announce it, and plan it once: the messages
     * of (watermark, windowEnd] cut into episodes and packed into pages.
     */
    async beginDream(input: BeginDreamInput): Promise<BeginDreamResult> {
      return beginDream(deps, input);
    },

    /** One page: one model call → moments (stored, embedded) and candidate facts (kept for consolidation). */
    async dreamPage(input: { runId: string; page: number }): Promise<DreamStepResult> {
      return dreamPage(deps, control(), input);
    },

    /** Candidate facts of every page into the user's memories (ADD/UPDATE/DELETE/NOOP with history). */
    async consolidateDreamFacts(input: { runId: string }): Promise<DreamStepResult> {
      return consolidateDreamFacts(deps, control(), input);
    },

    /** The user's profile from this run's moments, current memories and new files, with evidence ids. */
    async buildDreamProfile(input: { runId: string }): Promise<DreamStepResult> {
      return buildDreamProfile(deps, control(), input);
    },

    /** Affinity links from this run's moments to related moments and files (no model call). */
    async linkDreamAffinity(input: { runId: string }): Promise<DreamStepResult> {
      return linkDreamAffinity(deps, control(), input);
    },

    /**
     * End the run. A run that succeeded (and is not a dry run) moves the
     * watermark to its window end in the same commit: nothing is skipped if
     * any step before failed.
     */
    async finishDream(input: FinishDreamInput): Promise<void> {
      await finishDream(deps, input);
    },

    /** The fan-out's own run (kind `dream`, no user), created once per workflow. */
    async beginDreamAll(input: BeginDreamAllInput): Promise<string> {
      return beginDreamAll(deps, input);
    },

    /** Users with messages or files since their watermark, a page at a time; the others cost nothing. */
    async listDreamUsers(input: {
      tenantId: string;
      windowEnd: string;
      after: string | null;
      limit: number;
    }): Promise<DreamUsersPage> {
      return listDreamUsers(deps, input);
    },

    async reportDreamAllProgress(input: DreamAllProgress): Promise<void> {
      await reportDreamAllProgress(deps, input);
    },

    async finishDreamAll(input: { runId: string; users: number; failed: number }): Promise<void> {
      await finishDreamAll(deps, input);
    },
  });
}
