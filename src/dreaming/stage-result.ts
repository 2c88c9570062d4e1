import type { MomentDraft } from './moments';

/** What a model step reports back to the workflow (small; the content stays in Postgres). */
export interface DreamStepResult {
  budgetExceeded: boolean;
  changes: number;
  warnings: number;
}

/** What a page stage stores as its step result: read back by the later stages. */
export interface PageResult {
  moments: Pick<
    MomentDraft,
    'id' | 'title' | 'summary' | 'topics' | 'entities' | 'starts_at' | 'source_message_ids'
  >[];
  facts: { content: string; category: string | null; message_ids: string[] }[];
  warnings: string[];
  model: string;
}

/** The step result a stored page stands for (a retried page returns it). */
export function summarisePage(result: PageResult): DreamStepResult {
  return {
    budgetExceeded: false,
    changes: result.moments.length,
    warnings: result.warnings.length,
  };
}

/** The result of a stage skipped because the run spent its token budget. */
export const OVER_BUDGET: DreamStepResult = { budgetExceeded: true, changes: 0, warnings: 0 };
