/**
 * The `type` of every ApplicationFailure reverie throws or compares, by name.
 *
 * Activities throw them, workflows and services branch on them, and recorded
 * histories carry them: the strings are part of the contract and never change.
 * Pure (no imports) so that workflow code may import it.
 */
export const FailureType = {
  /** The run row is gone (its session was deleted): nothing left to do. */
  RunGone: 'RunGone',
  /** A `reject` turn was submitted while another turn of the session runs or waits. */
  RunInProgress: 'RunInProgress',
  /** The file cannot be parsed, or its format is not supported. */
  InvalidFile: 'InvalidFile',
  /** The file was deleted while it was being ingested. */
  FileDeleted: 'FileDeleted',
  /** The stored chunks of a file are not the planned ones. */
  ChunkCountMismatch: 'ChunkCountMismatch',
  /** A newer attempt of the same model step holds the step's fence. */
  SupersededAttempt: 'SupersededAttempt',
  /** The turn was asked to stop (`runs.stop_requested`); details: `[{ reason }]`. */
  TurnStopped: 'TurnStopped',
  /** A tool call the stored assistant message does not have. */
  InvalidTurn: 'InvalidTurn',
  /** The provider refused the request for good (400, 401, 404, content filter). */
  ProviderError: 'ProviderError',
  /** The provider does not serve the requested model (its 404): the turn ends `model_not_found`. */
  ModelNotFound: 'ModelNotFound',
  /** Every provider of the chain failed transiently (retryable). */
  ProviderUnavailable: 'ProviderUnavailable',
} as const;

/** One of the {@link FailureType} strings. */
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * Whether a failure came from the model provider (`ProviderError` or
 * `ProviderUnavailable`): workflows report it as `provider_error`.
 * Matches by prefix, as the workflows always have.
 */
export function isProviderFailure(type: string | null | undefined): boolean {
  return type?.startsWith('Provider') ?? false;
}
