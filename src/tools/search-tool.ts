import { z } from 'zod';
import type { Pool } from '../db/pool';
import type { Embedder } from '../embeddings';
import { hybridSearch, SEARCH_TYPES } from '../search/hybrid-search';
import type { ToolDefinition } from './tool-registry';

const SearchArgs = z.object({
  query: z.string().trim().min(1).max(2000),
  types: z.array(z.enum(SEARCH_TYPES)).min(1).optional(),
  limit: z.number().int().min(1).max(20).optional(),
});

/** Hit texts longer than this are shortened for the model. */
const TOOL_TEXT_CHARS = 1500;

/**
 * `search`: the agent's way into uploaded files, memories, moments and past
 * messages (hybrid search), scoped to the turn's tenant and user.
 */
export function createSearchTool(pool: Pool, embedder: Embedder): ToolDefinition {
  return {
    name: 'search',
    description:
      "Search the user's uploaded files, remembered facts, past episodes and earlier messages. Returns the best matching passages with their source (file name, position). Use it to answer from documents the user uploaded.",
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'what to look for, in natural language or keywords' },
        types: {
          type: 'array',
          items: { type: 'string', enum: [...SEARCH_TYPES] },
          description: 'where to search (default: everywhere)',
        },
        limit: {
          type: 'integer',
          minimum: 1,
          maximum: 20,
          description: 'how many hits (default 5)',
        },
      },
      required: ['query'],
      additionalProperties: false,
    },
    async execute(args, context) {
      const { query, types, limit } = SearchArgs.parse(args);
      const hits = await hybridSearch(pool, embedder, {
        tenantId: context.tenantId,
        userId: context.userId,
        q: query,
        types: types ?? SEARCH_TYPES,
        limit: limit ?? 5,
      });
      return {
        query,
        hits: hits.map((h) => ({
          type: h.type,
          id: h.id,
          score: h.score,
          text: h.text.length > TOOL_TEXT_CHARS ? `${h.text.slice(0, TOOL_TEXT_CHARS)}…` : h.text,
          source: h.source,
        })),
      };
    },
  };
}
