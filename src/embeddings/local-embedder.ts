import { createHash } from 'node:crypto';
import { normalise, type Embedder } from './embedder';

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * The built-in embedder used when no embeddings endpoint is configured:
 * feature hashing of words, word bigrams and character trigrams into a signed
 * vector. Deterministic and fast, but LEXICAL quality: texts match when they
 * share words, not when they share meaning. Configure EMBEDDINGS_BASE_URL (or
 * OPENAI_API_KEY) for semantic search.
 */
export class LocalEmbedder implements Embedder {
  readonly name = 'local-hash-v1';
  constructor(readonly dimension: number) {}

  embed(texts: string[]): Promise<number[][]> {
    return Promise.resolve(texts.map((t) => this.embedOne(t)));
  }

  embedOne(text: string): number[] {
    const vector = new Array<number>(this.dimension).fill(0);
    const words = (text.toLowerCase().match(WORD) ?? []).map(stem);
    const add = (feature: string, weight: number) => {
      const h = createHash('md5').update(feature).digest();
      const index = h.readUInt32LE(0) % this.dimension;
      vector[index] += (h[4] & 1 ? 1 : -1) * weight;
    };
    words.forEach((w, i) => {
      add(`w:${w}`, 1);
      if (i > 0) add(`b:${words[i - 1]} ${w}`, 0.5);
      if (w.length > 4) for (let j = 0; j + 3 <= w.length; j++) add(`c:${w.slice(j, j + 3)}`, 0.2);
    });
    return normalise(vector);
  }
}

/** A crude English stemmer: enough for plurals and common suffixes to meet. */
function stem(word: string): string {
  return word.replace(/(ing|ed|es|s)$/u, (m) => (word.length - m.length >= 3 ? '' : m));
}
