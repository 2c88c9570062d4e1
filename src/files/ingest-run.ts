import type { FileRow } from '../db/files';
import { findFileById } from '../db/files';
import { finishRun, markRunStarted } from '../db/runs';
import { maybeOne, withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { NewRunEvent } from '../events/types';
import { FailureType } from '../failure-types';
import { NonRetryableError } from '../non-retryable-error';
import { deleteChunkPlan } from './chunk-plan';
import { ANALYZE_AFTER_CHUNKS, refreshChunkStatistics } from './chunk-statistics';
import type { IngestDeps, IngestIds } from './ingest-deps';

/**
 * The ingestion run's lifecycle: begin, finish with a ready file, abort. Each
 * is idempotent (`markRunStarted` and `finishRun` act once), so retries are safe.
 */

/** The ingestion starts: the run turns `running` and `run.started` is announced once. */
export async function beginIngestRun(
  { pool }: Pick<IngestDeps, 'pool'>,
  file: FileRow,
  runId: string,
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    if (await markRunStarted(tx, runId)) {
      await appendRunEvents(tx, runId, [
        {
          type: 'run.started',
          data: { run_id: runId, file_id: file.id, filename: file.filename },
        },
      ]);
    }
  });
}

/**
 * The file is ready: status, chunk count and `done` commit together. A file
 * deleted meanwhile ends the run `cancelled` instead.
 * @throws NonRetryableError `ChunkCountMismatch` when the stored chunks are not the planned ones
 */
export async function finishIngest(
  { pool, blobs, log }: IngestDeps,
  fileId: string,
  runId: string,
  chunkCount: number,
): Promise<void> {
  const file = await findFileById(pool, fileId);
  await withTransaction(pool, async (tx) => {
    const stored = await maybeOne<{ n: number }>(
      tx,
      'select count(*)::int as n from chunks where file_id = $1',
      [fileId],
    );
    if (file && stored?.n !== chunkCount) {
      throw new NonRetryableError(
        FailureType.ChunkCountMismatch,
        `stored ${stored?.n} chunks, planned ${chunkCount}`,
      );
    }
    await tx.query(
      `update files set status = 'ready', chunk_count = $2, error = null, updated_at = now()
       where id = $1 and status = 'processing'`,
      [fileId, chunkCount],
    );
    const run = await finishRun(tx, runId, { status: file ? 'succeeded' : 'cancelled' });
    if (!run) return;
    await appendRunEvents(tx, runId, [
      {
        type: 'done',
        data: {
          reason: file ? 'ready' : 'cancelled',
          file_id: fileId,
          chunk_count: chunkCount,
        },
      },
    ]);
  });
  if (file) await deleteChunkPlan(blobs, file.tenant_id, fileId);
  if (file && chunkCount >= ANALYZE_AFTER_CHUNKS) await refreshChunkStatistics(pool, log);
}

/** How an ingestion ended without a ready file. */
export interface AbortedIngest extends IngestIds {
  status: 'failed' | 'cancelled';
  error?: { code: string; message: string };
}

/**
 * The ingestion ends without a ready file (bad file, cancelled, gave up):
 * every chunk is removed in the same commit that records the outcome.
 */
export async function abortIngest(
  { pool, blobs }: Pick<IngestDeps, 'pool' | 'blobs'>,
  input: AbortedIngest,
): Promise<void> {
  const { fileId, runId } = input;
  const run = await maybeOne<{ tenant_id: string }>(
    pool,
    'select tenant_id from runs where id = $1',
    [runId],
  );
  await withTransaction(pool, async (tx) => {
    await tx.query('delete from chunks where file_id = $1', [fileId]);
    await tx.query(
      `update files set status = 'failed', chunk_count = 0, error = $2, updated_at = now()
       where id = $1 and status = 'processing'`,
      [
        fileId,
        JSON.stringify(input.error ?? { code: input.status, message: `ingestion ${input.status}` }),
      ],
    );
    const finished = await finishRun(tx, runId, {
      status: input.status,
      error: input.error ?? null,
    });
    if (!finished) return;
    const events: NewRunEvent[] = [];
    if (input.error) events.push({ type: 'error', data: input.error });
    events.push({
      type: 'done',
      data: { reason: input.status, file_id: fileId, chunk_count: 0 },
    });
    await appendRunEvents(tx, runId, events);
  });
  if (run) await deleteChunkPlan(blobs, run.tenant_id, fileId);
}
