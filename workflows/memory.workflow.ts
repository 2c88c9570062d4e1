import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { ExtractMemoriesResult } from '../activities/memory.activities';
import { isProviderFailure } from '../src/failure-types';
import { MEMORY, PERSIST } from './activity-options';

type Activities = ReturnType<typeof createActivities>;

const memory = proxyActivities<Activities>(MEMORY);
const persist = proxyActivities<Activities>(PERSIST);

export interface ExtractMemoriesInput {
  tenantId: string;
  /** A finished turn, or a `memory` run created by `POST /v1/memories` (claim check). */
  runId: string;
}

export type ExtractMemoriesOutcome =
  ExtractMemoriesResult | { status: 'failed'; error: { code: string; message: string } };

/** The workflow id of a run's memory extraction: one per run, so it never runs twice. */
export function memoryWorkflowId(tenantId: string, runId: string): string {
  return `memory:${tenantId}:${runId}`;
}

/**
 * Extract facts from a run and consolidate them into the user's memories.
 * Started by a turn once it is done (abandoned by it, so the answer never
 * waits) or by `POST /v1/memories`.
 */
export async function extractMemoriesWorkflow(
  input: ExtractMemoriesInput,
): Promise<ExtractMemoriesOutcome> {
  try {
    return await memory.extractMemories({ runId: input.runId });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const error = {
      code:
        cause instanceof ApplicationFailure && isProviderFailure(cause.type)
          ? 'provider_error'
          : 'memory_failed',
      message: cause instanceof Error ? cause.message : 'memory extraction failed',
    };
    await persist.failMemoryRun({ runId: input.runId, error });
    return { status: 'failed', error };
  }
}
