import type { NewRunEvent } from '../events/types';

/** Stages of a dreaming run, as its progress events number them. */
export const STAGES = [
  'Reading new activity',
  'Building moments',
  'Consolidating facts',
  'Building the profile',
  'Linking related moments and files',
];

/** Stage indexes into {@link STAGES}. */
export const STAGE = { window: 0, moments: 1, facts: 2, profile: 3, affinity: 4 } as const;

/** The `progress` event of stage `stage` (an index into {@link STAGES}). */
export function progress(
  stage: number,
  status: 'in_progress' | 'completed',
  extra: Record<string, unknown> = {},
): NewRunEvent {
  return {
    type: 'progress',
    data: { step: stage + 1, total_steps: STAGES.length, label: STAGES[stage], status, ...extra },
  };
}

/** One `metadata` event per warning. */
export function warningEvents(warnings: string[]): NewRunEvent[] {
  return warnings.map((warning) => ({ type: 'metadata', data: { warning } }));
}
