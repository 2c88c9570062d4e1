import type { Config } from '../config';
import type { Embedder } from './embedder';
import { LocalEmbedder } from './local-embedder';
import { OpenAIEmbedder } from './openai-embedder';

export { toVectorLiteral, type Embedder } from './embedder';
export { LocalEmbedder } from './local-embedder';

/** The embedder the configuration asks for (local when no endpoint is configured). */
export function createEmbedder(config: Config): Embedder {
  const { embeddings, embeddingDim } = config;
  const useOpenAI =
    embeddings.provider === 'openai' || (embeddings.provider === 'auto' && embeddings.configured);
  return useOpenAI
    ? new OpenAIEmbedder(
        {
          baseURL: embeddings.baseURL,
          apiKey: embeddings.apiKey,
          model: embeddings.model,
          timeoutMs: config.llm.timeoutMs,
        },
        embeddingDim,
      )
    : new LocalEmbedder(embeddingDim);
}
