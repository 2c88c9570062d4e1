import type { RunEvent } from '../../events/types';

/**
 * What a client that cannot take text back is shown of a run's text deltas.
 *
 * After a `retry` event the new attempt usually repeats what the client already
 * shows; that repetition is swallowed and only what is new passes. Where the
 * new attempt diverges, the client keeps its old prefix and gets the rest, so
 * protocols with a final "whole text" event (Responses) send {@link text} there.
 */
export class RetryTextFilter {
  /** Text of the current attempt since the last discard point, with the seq it started at. */
  private sent: { seq: number; text: string }[] = [];
  /** Text to match (and swallow) after a retry. */
  private replay = '';

  /** @returns the part of this delta the client has not been shown yet ('' for none). */
  accept(seq: number, original: string): string {
    let content = original;
    if (this.replay) {
      const overlap = commonPrefixLength(this.replay, content);
      if (overlap === content.length) {
        this.replay = this.replay.slice(overlap);
        this.sent.push({ seq, text: content });
        return '';
      }
      // The new attempt diverged from what the client already shows.
      content = content.slice(overlap);
      this.replay = '';
    }
    // `sent` tracks what this attempt produced (all of it), for a later retry's replay.
    this.sent.push({ seq, text: original });
    return content;
  }

  /** A `retry` event: the deltas from its `discard_from_seq` on (none named: all) are replaced. */
  retry(event: RunEvent): void {
    this.discardFrom(Number(event.data.discard_from_seq ?? Number.POSITIVE_INFINITY));
  }

  /** A `retry`: the deltas from `seq` on are replaced by the next attempt's. */
  discardFrom(seq: number): void {
    const dropped = this.sent.filter((s) => s.seq >= seq);
    this.replay = dropped.map((s) => s.text).join('') + this.replay;
    this.sent = this.sent.filter((s) => s.seq < seq);
  }

  /** The answer's text as the model now has it (what the stored message holds). */
  text(): string {
    return this.sent.map((s) => s.text).join('');
  }
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** The `{code, message}` of an `error` event, with defaults for fields it lacks. */
export function runEventError(
  event: RunEvent,
  fallback: string,
): { code: string; message: string } {
  return {
    code: typeof event.data.code === 'string' ? event.data.code : 'server_error',
    message: typeof event.data.message === 'string' ? event.data.message : fallback,
  };
}
