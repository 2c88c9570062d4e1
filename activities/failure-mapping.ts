import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryableError } from '../src/non-retryable-error';

/** A domain `NonRetryableError` as Temporal must see it; anything else unchanged (retried). */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof NonRetryableError)
    return ApplicationFailure.nonRetryable(err.message, err.type, ...err.details);
  return err;
}

/**
 * The same activities, each mapping what domain code throws through
 * {@link toActivityFailure}: domain code in src/ stays free of Temporal, and
 * the failure types (and so workflow branches) are what they always were.
 * Names and signatures are unchanged: the worker registers activities by key.
 */
export function mapFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  const mapped: Record<string, unknown> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const call = activity as (...args: unknown[]) => Promise<unknown>;
    mapped[name] = async (...args: unknown[]) => {
      try {
        return await call(...args);
      } catch (err) {
        throw toActivityFailure(err);
      }
    };
  }
  return mapped as T;
}
