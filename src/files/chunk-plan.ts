import { Readable } from 'node:stream';
import { blobKeys, readBlob, type BlobStore } from '../blob';
import type { FileRow } from '../db/files';
import type { Chunk } from './chunker';

/**
 * A file's chunk plan in the blob store, one JSON chunk per line. It can be
 * megabytes, so it never travels through workflow history (claim check).
 */

/** Store the plan of `file` (overwrites: a retried parse writes the same plan). */
export async function writeChunkPlan(
  blobs: BlobStore,
  file: FileRow,
  chunks: Chunk[],
): Promise<void> {
  function* lines() {
    for (const chunk of chunks) yield `${JSON.stringify(chunk)}\n`;
  }
  await blobs.put(blobKeys.chunkPlan(file.tenant_id, file.id), Readable.from(lines()), {
    contentType: 'application/x-ndjson',
  });
}

/** The plan `writeChunkPlan` stored. @throws BlobNotFoundError when there is none */
export async function readChunkPlan(blobs: BlobStore, file: FileRow): Promise<Chunk[]> {
  const text = (await readBlob(blobs, blobKeys.chunkPlan(file.tenant_id, file.id))).toString(
    'utf8',
  );
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Chunk);
}

/** Remove the plan, best effort: a leftover plan is garbage, never an error. */
export async function deleteChunkPlan(
  blobs: BlobStore,
  tenantId: string,
  fileId: string,
): Promise<void> {
  await blobs.delete(blobKeys.chunkPlan(tenantId, fileId)).catch(() => undefined);
}
