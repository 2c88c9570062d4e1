import OpenAI from 'openai';
import { normalise, type Embedder } from './embedder';

/** Embeddings from any OpenAI-compatible `/embeddings` endpoint, in batches. */
export class OpenAIEmbedder implements Embedder {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(
    options: { baseURL?: string; apiKey?: string; model: string; timeoutMs?: number },
    readonly dimension: number,
    private readonly batchSize = 96,
  ) {
    this.name = `openai:${options.model}`;
    this.model = options.model;
    // Transient failures are retried by the SDK here: embeddings are idempotent.
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? 'not-needed',
      maxRetries: 3,
      timeout: options.timeoutMs ?? 60_000,
    });
  }

  private readonly model: string;

  async embed(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize).map((t) => t || ' ');
      const res = await this.client.embeddings.create({
        model: this.model,
        input: batch,
        dimensions: this.dimension,
        encoding_format: 'float',
      });
      const ordered = [...res.data].sort((a, b) => a.index - b.index);
      for (const item of ordered) {
        if (item.embedding.length !== this.dimension) {
          throw new Error(
            `embedding model returned ${item.embedding.length} dimensions, EMBEDDING_DIM is ${this.dimension}`,
          );
        }
        out.push(normalise(item.embedding));
      }
    }
    return out;
  }
}
