import { createHash } from 'node:crypto';

/**
 * The fingerprint an Idempotency-Key is bound to: sha256 of the request's
 * JSON. Stored on the run, so it must stay stable across releases.
 */
export function requestHash(fingerprint: unknown): string {
  return createHash('sha256').update(JSON.stringify(fingerprint)).digest('hex');
}
