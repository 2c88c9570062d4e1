/**
 * What a long-running step needs from whatever runs it (an activity, a test):
 * a cancellation signal, and a way to say it is still alive. Domain code gets
 * it as a parameter, so it stays free of Temporal.
 */
export interface StepControl {
  /** Aborted when the step must stop (the activity was cancelled). */
  signal: AbortSignal;
  /**
   * Start reporting liveness, with `details` (evaluated at each report) when
   * given; returns the function that stops it. Call it in a `finally`.
   */
  keepAlive(details?: () => unknown): () => void;
}
