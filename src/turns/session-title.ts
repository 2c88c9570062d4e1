/** Longest title we derive; longer first messages are cut at a word boundary. */
export const SESSION_TITLE_MAX_CHARS = 60;

/**
 * The title a session gets from its first user message: whitespace collapsed,
 * cut at a word boundary to {@link SESSION_TITLE_MAX_CHARS} (with `…` when
 * cut), trailing punctuation dropped. The turn stores it and announces it in
 * its `title` event, so both are always this one string.
 * @returns `undefined` when the message has no text to name the session by.
 */
export function sessionTitle(firstMessage: string): string | undefined {
  const text = firstMessage.replace(/\s+/g, ' ').trim();
  if (!text) return undefined;
  if (text.length <= SESSION_TITLE_MAX_CHARS) return withoutTrailingPunctuation(text) || text;
  const head = text.slice(0, SESSION_TITLE_MAX_CHARS);
  // A single word longer than the limit is cut mid-word rather than dropped.
  const lastSpace = head.lastIndexOf(' ');
  const cut = lastSpace > 0 ? head.slice(0, lastSpace) : head;
  return `${withoutTrailingPunctuation(cut) || cut}…`;
}

function withoutTrailingPunctuation(text: string): string {
  return text.replace(/[\s.,;:!?\-–—]+$/u, '');
}
