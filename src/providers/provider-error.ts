import OpenAI from 'openai';

/**
 * A provider call failed. `retryable` follows the contract of ARCHITECTURE.md:
 * 429, 5xx, timeouts and dropped connections may succeed on another try or
 * another provider; 400, 401, 403, 404 and 422 will not.
 */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly provider?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const RETRYABLE_STATUSES = new Set([408, 409, 425, 429]);

/** Classify anything a provider call can throw. */
export function classifyProviderError(err: unknown, provider: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderError(`${provider}: request timed out`, true, undefined, provider, {
      cause: err,
    });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new ProviderError(`${provider}: connection failed`, true, undefined, provider, {
      cause: err,
    });
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const retryable = status >= 500 || RETRYABLE_STATUSES.has(status);
    return new ProviderError(
      `${provider}: ${status} ${providerMessage(err)}`,
      retryable,
      status,
      provider,
      { cause: err },
    );
  }
  // Stream parse errors, sockets reset mid-stream, and the like: transient.
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${provider}: ${message}`, true, undefined, provider, { cause: err });
}

function providerMessage(err: { error?: unknown; message: string }): string {
  const body = err.error as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : err.message;
}
