import type { FailureType } from './failure-types';

/**
 * A failure a retry cannot fix, thrown by domain code that knows nothing of
 * Temporal. The activity adapters turn it into
 * `ApplicationFailure.nonRetryable(message, type, ...details)`.
 */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
  readonly details: unknown[];

  constructor(
    readonly type: FailureType,
    message: string,
    ...details: unknown[]
  ) {
    super(message);
    this.details = details;
  }
}
