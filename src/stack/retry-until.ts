/** Options for {@link retryUntil}. */
export interface RetryOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between attempts. @default 200 */
  intervalMs?: number;
  /** Checked before each pause; a returned error ends the wait at once (e.g. the server exited). */
  stopIf?: () => Error | undefined;
}

/**
 * Call `attempt` until it resolves. Rejects with the `stopIf` error as soon as
 * there is one, or with the last attempt's error once `timeoutMs` has passed.
 */
export async function retryUntil<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const fatal = options.stopIf?.();
      if (fatal) throw fatal;
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
