import { readBlob } from '../blob';
import { findFileById, insertChunks, storedOrdinals, type FileRow } from '../db/files';
import type { Pool } from '../db/pool';
import { withTransaction } from '../db/sql';
import { toVectorLiteral } from '../embeddings';
import { appendRunEvents } from '../events/event-log';
import type { NewRunEvent } from '../events/types';
import { FailureType } from '../failure-types';
import { NonRetryableError } from '../non-retryable-error';
import type { StepControl } from '../step-control';
import { chunkDocument, type Chunk } from './chunker';
import { deleteChunkPlan, readChunkPlan, writeChunkPlan } from './chunk-plan';
import { ParseError } from './document';
import { FILE_FORMATS, type FileFormat } from './formats';
import { parseDocument } from './parse';
import type { IngestDeps, IngestIds } from './ingest-deps';
import { beginIngestRun, finishIngest } from './ingest-run';

/**
 * The stages of a file's ingestion: parse → chunk → embed + store (then
 * `finishIngest` makes it ready). Staged (`parseToChunkPlan`, then
 * `embedChunkPlan`, through a chunk plan in the blob store) or in one pass for
 * small files (`ingestInOnePass`); both announce the same progress events.
 */

const progress = (stage: string, done: number, total: number): NewRunEvent => ({
  type: 'progress',
  data: { stage, done, total },
});

/** The file, still there. @throws NonRetryableError `FileDeleted` when it is gone */
export async function requireFile(pool: Pool, fileId: string): Promise<FileRow> {
  const file = await findFileById(pool, fileId);
  if (!file) throw new NonRetryableError(FailureType.FileDeleted, 'the file was deleted');
  return file;
}

/** What gets embedded: the heading path gives a chunk its context. */
export function embeddingText(chunk: Pick<Chunk, 'heading' | 'content'>): string {
  return chunk.heading ? `${chunk.heading}\n${chunk.content}` : chunk.content;
}

/**
 * Parse the original and cut it into chunks, announcing both stages.
 * @throws NonRetryableError `InvalidFile` (details `{ code }`) for a file that cannot be parsed
 */
export async function planChunks(
  { pool, blobs, config }: IngestDeps,
  file: FileRow,
  runId: string,
): Promise<Chunk[]> {
  await appendRunEvents(pool, runId, [progress('parse', 0, 1)]);
  const data = await readBlob(blobs, file.blob_key);
  const format = fileFormat(file);
  let chunks: Chunk[];
  try {
    const doc = await parseDocument(format, data);
    await appendRunEvents(pool, runId, [progress('parse', 1, 1)]);
    chunks = chunkDocument(doc, {
      maxTokens: config.ingest.chunkTokens,
      overlapTokens: config.ingest.overlapTokens,
    });
  } catch (err) {
    if (err instanceof ParseError)
      throw new NonRetryableError(FailureType.InvalidFile, err.message, { code: err.code });
    throw err;
  }
  await appendRunEvents(pool, runId, [progress('chunk', chunks.length, chunks.length)]);
  return chunks;
}

/**
 * Parse the file and store its chunk plan in the blob store.
 * @returns how many chunks were planned
 * @throws NonRetryableError `InvalidFile`, or `FileDeleted` when the file is
 * (or gets, while parsing) deleted; then no plan is left behind
 */
export async function parseToChunkPlan(
  deps: IngestDeps,
  { fileId, runId }: IngestIds,
  control: StepControl,
): Promise<{ chunkCount: number }> {
  const file = await requireFile(deps.pool, fileId);
  const stop = control.keepAlive();
  try {
    const chunks = await planChunks(deps, file, runId);
    await writeChunkPlan(deps.blobs, file, chunks);
    // Deleted while parsing: the plan must not outlive the file.
    if (!(await findFileById(deps.pool, fileId))) {
      await deleteChunkPlan(deps.blobs, file.tenant_id, fileId);
      throw new NonRetryableError(FailureType.FileDeleted, 'the file was deleted');
    }
    return { chunkCount: chunks.length };
  } finally {
    stop();
  }
}

/**
 * Embed the planned chunks in batches and store each batch (with its
 * progress event) in one transaction. A retry skips the ordinals already
 * stored, so a worker crash costs at most one batch and never duplicates.
 * Honours cancellation between batches; keeps alive with `{ stored }`.
 * @throws NonRetryableError `FileDeleted` when the file goes away meanwhile;
 * the signal's reason when cancelled
 */
export async function storeChunks(
  { pool, embedder, config }: IngestDeps,
  file: FileRow,
  runId: string,
  plan: Chunk[],
  control: StepControl,
): Promise<{ stored: number }> {
  const { signal } = control;
  const fileId = file.id;
  const done = await storedOrdinals(pool, fileId);
  const todo = plan.filter((c) => !done.has(c.ordinal));
  const total = plan.length;
  let stored = done.size;
  const stop = control.keepAlive(() => ({ stored }));
  try {
    const batchSize = config.ingest.embedBatch;
    let pendingWrite: Promise<void> = Promise.resolve();
    for (let i = 0; i < todo.length; i += batchSize) {
      if (signal.aborted) break;
      const batch = todo.slice(i, i + batchSize);
      const vectors = await embedder.embed(batch.map((c) => embeddingText(c)));
      // The next batch is embedded while this one is written.
      await pendingWrite;
      pendingWrite = withTransaction(pool, async (tx) => {
        await insertChunks(
          tx,
          file.tenant_id,
          fileId,
          batch.map((c, j) => ({ ...c, embedding: toVectorLiteral(vectors[j]) })),
        );
        stored += batch.length;
        await appendRunEvents(tx, runId, [progress('embed', stored, total)]);
      });
      // Surface a failed write now rather than after the next embed.
      pendingWrite.catch(() => undefined);
    }
    await pendingWrite;
    if (signal.aborted) throw signal.reason ?? new Error('cancelled');
    if (todo.length === 0) await appendRunEvents(pool, runId, [progress('embed', total, total)]);
    return { stored };
  } catch (err) {
    if (isForeignKeyViolation(err))
      throw new NonRetryableError(FailureType.FileDeleted, 'the file was deleted');
    throw err;
  } finally {
    stop();
  }
}

/** Embed and store the chunk plan `parseToChunkPlan` stored (see {@link storeChunks}). */
export async function embedChunkPlan(
  deps: IngestDeps,
  { fileId, runId }: IngestIds,
  control: StepControl,
): Promise<{ stored: number }> {
  const file = await requireFile(deps.pool, fileId);
  return storeChunks(deps, file, runId, await readChunkPlan(deps.blobs, file), control);
}

/**
 * A small file in one step: begin → parse → chunk → embed + store → ready,
 * with the same progress events as the staged path but without its workflow
 * tasks and chunk plan. A retry parses again (the plan is deterministic) and
 * skips the ordinals already stored.
 */
export async function ingestInOnePass(
  deps: IngestDeps,
  { fileId, runId }: IngestIds,
  control: StepControl,
): Promise<{ chunkCount: number }> {
  const file = await requireFile(deps.pool, fileId);
  await beginIngestRun(deps, file, runId);
  const stop = control.keepAlive();
  let chunks: Chunk[];
  try {
    chunks = await planChunks(deps, file, runId);
  } finally {
    stop();
  }
  await storeChunks(deps, file, runId, chunks, control);
  await finishIngest(deps, fileId, runId, chunks.length);
  return { chunkCount: chunks.length };
}

/** @throws NonRetryableError `InvalidFile` (code `unsupported`) for a format reverie does not parse */
function fileFormat(file: FileRow): FileFormat {
  const format = file.format as FileFormat | null;
  if (!format || !FILE_FORMATS.includes(format)) {
    throw new NonRetryableError(FailureType.InvalidFile, `unsupported format ${file.format}`, {
      code: 'unsupported',
    });
  }
  return format;
}

function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23503';
}
