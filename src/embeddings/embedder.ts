/** Turns texts into vectors of a fixed dimension. */
export interface Embedder {
  /** Name for provenance (`local-hash-v1`, `openai:text-embedding-3-small`). */
  readonly name: string;
  readonly dimension: number;
  /** One vector per input, in order; each L2-normalised. */
  embed(texts: string[]): Promise<number[][]>;
}

/** pgvector's text form of a vector, for `$1::vector` parameters. */
export function toVectorLiteral(vector: number[]): string {
  return `[${vector.join(',')}]`;
}

export function normalise(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0));
  return norm === 0 ? vector : vector.map((v) => v / norm);
}
