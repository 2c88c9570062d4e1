import { countTokens } from 'gpt-tokenizer';
import { BLOCK_SEPARATOR, type ParsedDocument } from './document';

export interface ChunkOptions {
  /** Most tokens in a chunk (gpt-tokenizer's o200k encoding). */
  maxTokens: number;
  /** Tokens of whole sentences repeated from the previous chunk of the same section. */
  overlapTokens: number;
}

/** One chunk as stored: `content` is `documentText(doc).slice(startOffset, endOffset)`. */
export interface Chunk {
  ordinal: number;
  content: string;
  /** Heading path at the chunk's start, e.g. `Guide > Install`; null before any heading. */
  heading: string | null;
  tokenCount: number;
  startOffset: number;
  endOffset: number;
  /** PDF page the chunk starts on. */
  page: number | null;
}

/** A sentence (or a heading, or a piece of an over-long sentence) with its place in the text. */
interface Unit {
  start: number;
  end: number;
  tokens: number;
  heading: string | null;
  page: number | null;
  isHeading: boolean;
}

/** Sentence ends (followed by whitespace) and line breaks. */
const SENTENCE_BREAK = /(?<=[.!?])\s+|\n+/g;

/**
 * Cut a parsed document into token-sized chunks along its structure: a heading
 * always starts a new chunk (and is part of it), so does a PDF page break;
 * sentences are packed up to
 * `maxTokens`, a sentence longer than that is split at whitespace, and a chunk
 * that continues a section repeats up to `overlapTokens` of the previous one.
 * Deterministic: the same document and options give the same chunks, which is
 * what makes a retried ingestion idempotent.
 */
export function chunkDocument(doc: ParsedDocument, options: ChunkOptions): Chunk[] {
  const { maxTokens } = options;
  const overlap = Math.min(options.overlapTokens, Math.floor(maxTokens / 2));
  const text = doc.blocks.map((b) => b.text).join(BLOCK_SEPARATOR);
  const units: Unit[] = [];
  const headings: string[] = [];
  let offset = 0;
  for (const block of doc.blocks) {
    const page = block.page ?? null;
    if (block.kind === 'heading') {
      const level = Math.min(Math.max(block.level ?? 1, 1), 6);
      headings.length = level - 1;
      headings[level - 1] = block.text.trim();
      const heading = headings.filter(Boolean).join(' > ');
      for (const piece of splitLong(text, offset, offset + block.text.length, maxTokens)) {
        units.push({ ...piece, heading, page, isHeading: true });
      }
    } else {
      const heading = headings.filter(Boolean).join(' > ') || null;
      for (const [start, end] of sentences(block.text)) {
        for (const piece of splitLong(text, offset + start, offset + end, maxTokens)) {
          units.push({ ...piece, heading, page, isHeading: false });
        }
      }
    }
    offset += block.text.length + BLOCK_SEPARATOR.length;
  }

  const chunks: Chunk[] = [];
  let current: Unit[] = [];
  let tokens = 0;
  const hasContent = () => current.some((u) => !u.isHeading);
  const flush = (carryOverlap: boolean) => {
    if (hasContent()) {
      const first = current[0];
      const last = current[current.length - 1];
      chunks.push({
        ordinal: chunks.length,
        content: text.slice(first.start, last.end),
        heading: first.heading,
        tokenCount: tokens,
        startOffset: first.start,
        endOffset: last.end,
        page: first.page,
      });
    }
    const carried: Unit[] = [];
    let carriedTokens = 0;
    if (carryOverlap) {
      for (let i = current.length - 1; i >= 0; i--) {
        const u = current[i];
        if (u.isHeading || carriedTokens + u.tokens > overlap) break;
        carried.unshift(u);
        carriedTokens += u.tokens;
      }
    }
    current = carried;
    tokens = carriedTokens;
  };

  for (const unit of units) {
    if (unit.isHeading) {
      if (hasContent()) flush(false);
    } else if (hasContent() && unit.page !== current[current.length - 1].page) {
      // A page break starts a new chunk, so every chunk cites one page.
      flush(false);
    } else if (tokens + unit.tokens > maxTokens && hasContent()) {
      flush(true);
      // The overlap gives way when it would push the new sentence over the limit.
      while (current.length > 0 && tokens + unit.tokens > maxTokens)
        tokens -= current.shift()!.tokens;
    }
    if (tokens + unit.tokens > maxTokens && !hasContent()) {
      // Headings alone exceeding the budget: keep the nearest ones.
      while (current.length > 0 && tokens + unit.tokens > maxTokens)
        tokens -= current.shift()!.tokens;
    }
    current.push(unit);
    tokens += unit.tokens;
  }
  flush(false);
  return chunks;
}

/** [start, end) of each sentence in `text`, whitespace trimmed. */
function sentences(text: string): [number, number][] {
  const out: [number, number][] = [];
  let from = 0;
  const push = (start: number, end: number) => {
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    if (end > start) out.push([start, end]);
  };
  for (const match of text.matchAll(SENTENCE_BREAK)) {
    push(from, match.index);
    from = match.index + match[0].length;
  }
  push(from, text.length);
  return out;
}

/** Pieces of `text[start, end)` of at most `maxTokens` each, cut at whitespace near the middle. */
function splitLong(
  text: string,
  start: number,
  end: number,
  maxTokens: number,
): Omit<Unit, 'heading' | 'page' | 'isHeading'>[] {
  const tokens = countTokens(text.slice(start, end));
  if (tokens <= maxTokens || end - start < 2) return [{ start, end, tokens }];
  const middle = start + Math.floor((end - start) / 2);
  let cut = text.lastIndexOf(' ', middle);
  if (cut <= start) cut = text.indexOf(' ', middle);
  if (cut <= start || cut >= end) cut = middle;
  let rightStart = cut;
  while (rightStart < end && text[rightStart] === ' ') rightStart++;
  return [
    ...splitLong(text, start, cut, maxTokens),
    ...splitLong(text, rightStart, end, maxTokens),
  ];
}
