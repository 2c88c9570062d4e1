import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { FailureType } from '../src/failure-types';
import { INGEST_EMBED, INGEST_PARSE, LOCAL_PERSIST, PERSIST } from './activity-options';

type Activities = ReturnType<typeof createActivities>;

const persist = proxyActivities<Activities>(PERSIST);
// Short status writes: local activities spare a task-queue round trip each.
const persistLocally = proxyLocalActivities<Activities>(LOCAL_PERSIST);
const parse = proxyActivities<Activities>(INGEST_PARSE);
const embed = proxyActivities<Activities>(INGEST_EMBED);

export interface IngestFileInput {
  tenantId: string;
  fileId: string;
  runId: string;
  /**
   * A small file goes through one activity (`ingestInOnePass`); larger ones
   * through staged activities with a stored chunk plan, so a retry does not
   * parse again. Decided by the API from the file's size; absent in older
   * histories, which replay the staged path.
   */
  onePass?: boolean;
}

export type IngestOutcome = 'ready' | 'failed' | 'cancelled';

/** The workflow id of a file's ingestion. */
export function ingestWorkflowId(tenantId: string, fileId: string): string {
  return `ingest:${tenantId}:${fileId}`;
}

/**
 * Ingest one uploaded file (already in the blob store): parse → chunk → embed
 * in batches and store → ready, as one activity for a small file. Progress goes to the run's event log from the
 * activities. Any failure or cancellation (the file was deleted) removes every
 * chunk, so a file is either ready with all its chunks or has none.
 */
export async function ingestFileWorkflow(input: IngestFileInput): Promise<IngestOutcome> {
  const ids = { fileId: input.fileId, runId: input.runId };
  try {
    if (input.onePass) {
      await embed.ingestInOnePass(ids);
      return 'ready';
    }
    await persistLocally.beginIngest(ids);
    const { chunkCount } = await parse.parseFile(ids);
    await embed.embedChunks(ids);
    await persistLocally.completeIngest({ ...ids, chunkCount });
    return 'ready';
  } catch (err) {
    // Deleting the file cancels the workflow; an activity may notice the deletion first.
    if (isCancellation(err) || failureType(err) === FailureType.FileDeleted) {
      await CancellationScope.nonCancellable(() =>
        persist.abortIngest({ ...ids, status: 'cancelled' }),
      );
      return 'cancelled';
    }
    const error = describeFailure(err);
    await CancellationScope.nonCancellable(() =>
      persist.abortIngest({ ...ids, status: 'failed', error }),
    );
    return 'failed';
  }
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function describeFailure(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const detail = cause.details?.[0] as { code?: string } | undefined;
    if (cause.type === FailureType.InvalidFile)
      return { code: detail?.code ?? 'invalid_file', message: cause.message };
    return { code: 'ingest_failed', message: cause.message };
  }
  return {
    code: 'ingest_failed',
    message: cause instanceof Error ? cause.message : 'the ingestion failed',
  };
}
