import type { IngestIds } from '../src/files/ingest-deps';
import {
  embedChunkPlan,
  ingestInOnePass,
  parseToChunkPlan,
  requireFile,
} from '../src/files/ingest-pipeline';
import {
  abortIngest,
  beginIngestRun,
  finishIngest,
  type AbortedIngest,
} from '../src/files/ingest-run';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';
import { activityControl } from './activity-control';

export type { IngestIds } from '../src/files/ingest-deps';
/** Kept for importers of the old path (bench/ingest.ts); it lives in src/files/ingest-pipeline.ts. */
export { embeddingText } from '../src/files/ingest-pipeline';

/** Ingestion steps heartbeat this often (and once at the start of each stage). */
const HEARTBEAT_EVERY_MS = 1000;

/**
 * The activities of `ingestFileWorkflow`: parse → chunk → embed + store →
 * ready. Adapters around src/files/ingest-pipeline.ts and ingest-run.ts.
 */
export function createFileActivities(deps: ActivityDeps) {
  const { pool } = deps;
  const control = () => activityControl(HEARTBEAT_EVERY_MS, { immediate: true });

  return mapFailures({
    /** The ingestion starts: the run turns `running` and `run.started` is announced once. */
    async beginIngest({ fileId, runId }: IngestIds): Promise<void> {
      await beginIngestRun(deps, await requireFile(pool, fileId), runId);
    },

    /**
     * Parse the original and cut it into chunks; the chunk plan goes to the blob
     * store (it can be megabytes: never through workflow history).
     * @throws ApplicationFailure `InvalidFile` (non-retryable) for a file that cannot be parsed.
     */
    async parseFile(ids: IngestIds): Promise<{ chunkCount: number }> {
      return parseToChunkPlan(deps, ids, control());
    },

    /**
     * Embed the planned chunks in batches and store each batch (with its
     * progress event) in one transaction. A retry skips the ordinals already
     * stored, so a worker crash costs at most one batch and never duplicates.
     * Honours cancellation between batches.
     */
    async embedChunks(ids: IngestIds): Promise<{ stored: number }> {
      return embedChunkPlan(deps, ids, control());
    },

    /**
     * A small file in one activity: begin → parse → chunk → embed + store →
     * ready, with the same progress events as the staged path but without its
     * workflow tasks and chunk plan. A retry parses again (the plan is
     * deterministic) and skips the ordinals already stored.
     */
    async ingestInOnePass(ids: IngestIds): Promise<{ chunkCount: number }> {
      return ingestInOnePass(deps, ids, control());
    },

    /** The file is ready: status, chunk count and `done` commit together. */
    async completeIngest({
      fileId,
      runId,
      chunkCount,
    }: IngestIds & { chunkCount: number }): Promise<void> {
      await finishIngest(deps, fileId, runId, chunkCount);
    },

    /**
     * The ingestion ends without a ready file (bad file, cancelled, gave up):
     * every chunk is removed in the same commit that records the outcome.
     */
    async abortIngest(input: AbortedIngest): Promise<void> {
      await abortIngest(deps, input);
    },
  });
}
