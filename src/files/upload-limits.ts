import { Transform, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError } from '../errors';

/**
 * Pass-through that fails with 413 as soon as more than `limit` bytes went
 * through, so an oversized upload stops streaming (and the blob store discards
 * what it had) instead of being stored.
 */
export class ByteLimit extends Transform {
  private seen = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) callback(new PayloadTooLargeError(this.limit));
    else callback(null, chunk);
  }
}
