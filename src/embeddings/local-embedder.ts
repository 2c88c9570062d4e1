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
  readonly name = 'local-hash-v2';
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
      // Function words say little about what a text is about: they must not decide a match.
      const stop = STOP_WORDS.has(w);
      add(`w:${w}`, stop ? 0.1 : 1);
      if (i > 0) add(`b:${words[i - 1]} ${w}`, stop || STOP_WORDS.has(words[i - 1]) ? 0.1 : 0.5);
      if (w.length > 4) for (let j = 0; j + 3 <= w.length; j++) add(`c:${w.slice(j, j + 3)}`, 0.2);
    });
    return normalise(vector);
  }
}

/** Common English function words (after stemming), weighted down. */
const STOP_WORDS = new Set(
  'a an the and or but if of in on at to for from by with about as into than then so is are was were be been being am do doe did have ha had i me my we our you your he him his she her it it they them their thi that these those what which who whom whose when where why how not no yes can could will would shall should may might must there here also just very all any some'.split(
    ' ',
  ),
);

/** A crude English stemmer: enough for plurals and common suffixes to meet. */
function stem(word: string): string {
  return word.replace(/(ing|ed|es|s)$/u, (m) => (word.length - m.length >= 3 ? '' : m));
}
