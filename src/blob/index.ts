import type { Config } from '../config';
import type { BlobStore } from './blob-store';
import { FsBlobStore } from './fs-blob-store';
import { S3BlobStore } from './s3-blob-store';

export { BlobNotFoundError, readBlob, type BlobStore, type StoredBlob } from './blob-store';
export { FsBlobStore } from './fs-blob-store';
export { S3BlobStore } from './s3-blob-store';

/** The blob store the configuration asks for (`BLOB_DRIVER`). */
export function createBlobStore(config: Config): BlobStore {
  const { blob } = config;
  if (blob.driver === 'fs') return new FsBlobStore(blob.dir);
  return new S3BlobStore({
    bucket: blob.s3.bucket,
    prefix: blob.s3.prefix,
    endpoint: blob.s3.endpoint,
    region: blob.s3.region,
    forcePathStyle: blob.s3.forcePathStyle,
    accessKeyId: blob.s3.accessKeyId,
    secretAccessKey: blob.s3.secretAccessKey,
    partSize: blob.s3.partSize,
  });
}

/** Keys of a file's objects: the original, and the chunk plan derived from it. */
export const blobKeys = {
  original: (tenantId: string, fileId: string) => `files/${tenantId}/${fileId}`,
  chunkPlan: (tenantId: string, fileId: string) => `derived/${tenantId}/${fileId}.chunks.jsonl`,
};
