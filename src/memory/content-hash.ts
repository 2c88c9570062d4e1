import { createHash } from 'node:crypto';

/**
 * The form two texts share when they state the same fact: case, accents'
 * composition, whitespace and trailing punctuation do not matter.
 */
export function normaliseFact(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\s+/g, ' ')
    .replace(/[\s.!?;:,]+$/u, '')
    .trim();
}

/** sha256 of {@link normaliseFact}: the cheap dedupe key (`memories.content_hash`). */
export function factHash(text: string): string {
  return createHash('sha256').update(normaliseFact(text)).digest('hex');
}
