import { Transform, type TransformCallback } from 'node:stream';
import { InvalidRequestError, PayloadTooLargeError } from '../errors';

/**
 * Pass-through that bounds an upload's size on both sides while it streams:
 * it fails with 413 as soon as more than `limit` bytes went through, and with
 * 400 `invalid_request` when the body ends without a single byte. Either way
 * the blob store sees a failed stream and discards what it had, so nothing is
 * stored and no row or run is written (API.md: an empty upload is 400).
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

  // Only the end of the stream tells a chunked or multipart body is empty.
  override _flush(callback: TransformCallback): void {
    if (this.seen === 0) {
      callback(
        new InvalidRequestError('the uploaded file is empty (0 bytes); send a file with content', {
          size_bytes: 0,
        }),
      );
    } else callback();
  }
}
