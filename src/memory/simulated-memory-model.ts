import { CONSOLIDATE_MARKER, EXTRACT_MARKER, type ConsolidateInput } from './memory-prompts';

/**
 * The simulator's answers to the memory calls: deterministic rules standing in
 * for a model, so tests and the embedded default exercise the whole pipeline.
 *
 * - extract: every sentence of a user message that starts with "I", "I'm",
 *   "My" or "Remember that" is a fact (kept in the user's words).
 * - consolidate: a fact sharing most content words with an existing memory
 *   UPDATEs it, or DELETEs it when the fact is a retraction ("no longer",
 *   "not anymore", "don't"...); otherwise ADD.
 *
 * @returns the JSON answer, or undefined when the request is not a memory call.
 */
export function simulateMemoryCall(system: string, user: string): object | undefined {
  if (system.includes(EXTRACT_MARKER)) return { facts: extractFacts(user) };
  if (system.includes(CONSOLIDATE_MARKER)) return { decisions: decide(user) };
  return undefined;
}

const FACT_START = /^(?:i|i'm|i am|i've|my|remember that)\b/i;
const RETRACTION =
  /\b(?:no longer|not anymore|any ?more|don't|do not|doesn't|never|stopped|quit)\b/i;
const STOP_WORDS = new Set([
  'i',
  'my',
  'me',
  'a',
  'an',
  'the',
  'in',
  'on',
  'at',
  'to',
  'of',
  'is',
  'am',
  'are',
  'and',
  'now',
  'no',
  'longer',
  'not',
  'anymore',
  'do',
  "don't",
  'that',
]);

function extractFacts(user: string): { text: string; category: string }[] {
  let messages: { role?: string; content?: unknown }[] = [];
  try {
    messages = (JSON.parse(user) as { messages?: typeof messages }).messages ?? [];
  } catch {
    messages = [{ role: 'user', content: user }];
  }
  const facts: { text: string; category: string }[] = [];
  for (const m of messages) {
    if (m.role !== 'user' || typeof m.content !== 'string') continue;
    for (const raw of m.content.split(/(?<=[.!?])\s+|\n+/)) {
      const sentence = raw.trim().replace(/[.!?]+$/, '');
      if (!FACT_START.test(sentence) || sentence.endsWith('?') || sentence.split(/\s+/).length < 3)
        continue;
      const text = sentence.replace(/^remember that\s+/i, '');
      facts.push({
        text: text.charAt(0).toUpperCase() + text.slice(1),
        category: categorise(text),
      });
    }
  }
  return facts;
}

function categorise(text: string): string {
  if (/\b(?:like|love|prefer|hate|enjoy|favou?rite)\b/i.test(text)) return 'preference';
  if (/\b(?:work|job|colleague|office|company)\b/i.test(text)) return 'work';
  if (/\b(?:wife|husband|son|daughter|friend|mother|father|partner)\b/i.test(text))
    return 'relationship';
  if (/\b(?:will|plan|going to|next)\b/i.test(text)) return 'plan';
  return 'personal';
}

function decide(
  user: string,
): { fact: number; event: string; id: string | null; text: string | null }[] {
  const input = JSON.parse(user) as ConsolidateInput;
  return input.facts.map((fact) => {
    const words = contentWords(fact.text);
    let best: { id: string; overlap: number } | undefined;
    for (const memory of input.existing) {
      const other = contentWords(memory.text);
      const shared = [...words].filter((w) => other.has(w)).length;
      const overlap = shared / Math.max(1, Math.min(words.size, other.size));
      if (overlap >= 0.5 && (!best || overlap > best.overlap)) best = { id: memory.id, overlap };
    }
    if (!best) return { fact: fact.index, event: 'ADD', id: null, text: fact.text };
    if (RETRACTION.test(fact.text))
      return { fact: fact.index, event: 'DELETE', id: best.id, text: null };
    return { fact: fact.index, event: 'UPDATE', id: best.id, text: fact.text };
  });
}

function contentWords(text: string): Set<string> {
  return new Set(
    (text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [])
      .filter((w) => !STOP_WORDS.has(w))
      .map((w) => w.replace(/s$/, '')),
  );
}
