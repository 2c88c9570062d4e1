/** Timing of the simulator's bodies: frames released at the pace of a model, abortable. */

/** A body that releases frames one pull at a time, `pause × delayMs` apart, and fails when `signal` aborts. */
export function paced(
  frames: { text: string; pause: number }[],
  delayMs: number,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const cancelled = new AbortController();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const frame = frames[next++];
      if (!frame) return controller.close();
      await wait(frame.pause * delayMs, signal, cancelled.signal);
      // The reader may have cancelled while we slept; enqueueing then would throw.
      if (!cancelled.signal.aborted) controller.enqueue(encoder.encode(frame.text));
    },
    cancel() {
      cancelled.abort();
    },
  });
}

/** Sleep `ms`; reject with the abort reason if `signal` aborts, return early if `cancelled` does. */
export function wait(
  ms: number,
  signal: AbortSignal | undefined,
  cancelled: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  if (ms <= 0 || cancelled.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(settle, ms);
    signal?.addEventListener('abort', settle, { once: true });
    cancelled.addEventListener('abort', settle, { once: true });
    function settle() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', settle);
      cancelled.removeEventListener('abort', settle);
      // As fetch does: fail with the signal's reason, a DOMException AbortError unless the caller chose one.
      if (signal?.aborted) reject(signal.reason as Error);
      else resolve();
    }
  });
}
