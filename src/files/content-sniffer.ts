import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { AppError } from '../errors';
import type { FileFormat } from './formats';

/** Bytes the leading-signature check needs. */
const PDF_MAGIC = Buffer.from('%PDF-');

function mismatch(format: FileFormat, why: string): AppError {
  return new AppError(415, 'unsupported_media_type', `the content is not ${format}: ${why}`, {
    format,
  });
}

/**
 * Checks an upload's bytes against its declared format as they stream by,
 * so the declared name and Content-Type are not all we trust: a PDF must
 * start with `%PDF-`; text formats must be valid UTF-8 without NUL bytes.
 * Fails the stream with 415 `unsupported_media_type` (nothing is kept: the
 * blob write fails with it).
 */
export class ContentSniffer extends Transform {
  private head = Buffer.alloc(0);
  private readonly decoder: TextDecoder | undefined;

  constructor(private readonly format: FileFormat) {
    super();
    this.decoder = format === 'pdf' ? undefined : new TextDecoder('utf-8', { fatal: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.format === 'pdf') {
      if (this.head.length < PDF_MAGIC.length) {
        this.head = Buffer.concat([this.head, chunk]).subarray(0, PDF_MAGIC.length);
        const n = this.head.length;
        if (!this.head.equals(PDF_MAGIC.subarray(0, n)))
          return callback(mismatch('pdf', 'it does not start with %PDF-'));
      }
      return callback(null, chunk);
    }
    if (chunk.includes(0)) return callback(mismatch(this.format, 'it contains NUL bytes'));
    try {
      this.decoder!.decode(chunk, { stream: true });
    } catch {
      return callback(mismatch(this.format, 'it is not valid UTF-8'));
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.format === 'pdf' && this.head.length > 0 && this.head.length < PDF_MAGIC.length)
      return callback(mismatch('pdf', 'it does not start with %PDF-'));
    try {
      this.decoder?.decode();
    } catch {
      return callback(mismatch(this.format, 'it ends inside a UTF-8 sequence'));
    }
    callback();
  }
}

/**
 * A file name safe to store and to send back in `Content-Disposition`: the
 * last path segment (either separator), without control characters; never
 * `.`/`..` or empty.
 */
export function safeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return clean === '' || clean === '.' || clean === '..' ? 'upload' : clean.slice(0, 255);
}
