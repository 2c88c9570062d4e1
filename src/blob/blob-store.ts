import type { Readable } from 'node:stream';

/** What a finished write produced. */
export interface StoredBlob {
  key: string;
  size: number;
  /** Hex sha256 of the bytes written. */
  sha256: string;
}

/**
 * Where original files and derived artefacts live: the filesystem (embedded
 * default) or any S3-compatible service. Bodies are streamed both ways; no
 * driver holds a whole large object in memory.
 */
export interface BlobStore {
  /** `fs` or `s3`, for logs and health output. */
  readonly driver: string;
  /**
   * Store `body` under `key`, replacing any object there. Nothing is left
   * behind when `body` errors (a temporary file is removed, a multipart upload
   * is aborted), so a rejected upload stores nothing.
   */
  put(key: string, body: Readable, options?: { contentType?: string }): Promise<StoredBlob>;
  /** The object's bytes. @throws BlobNotFoundError when there is no such key. */
  get(key: string): Promise<Readable>;
  /** Remove the object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Readiness probe: the store is reachable and writable. */
  check(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
  constructor(readonly key: string) {
    super(`blob ${key} not found`);
  }
}

/** Read a whole (small or bounded) blob into memory. */
export async function readBlob(store: BlobStore, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await store.get(key)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
