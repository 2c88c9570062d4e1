/** Model calls of the memory pipeline: which chain serves them, how their usage adds up. */
import type { z } from 'zod';
import { completeJson, validValue } from '../providers/complete-json';
import type { MemoryDeps, MemoryUsage } from './memory-types';

/** Zero usage, to add calls to. */
export const emptyUsage = (): MemoryUsage => ({
  prompt_tokens: 0,
  completion_tokens: 0,
  model_calls: 0,
});

/** The model chain of memory calls: MEMORY_MODEL if set, else the turn's model, else the default. */
export function memoryChain(deps: MemoryDeps, model?: string | null) {
  return deps.models.chainFor(deps.config.memory.model ?? model ?? deps.models.defaultModel);
}

/** Count one model call's tokens into `total`. */
export function addUsage(
  total: MemoryUsage,
  usage: { prompt_tokens: number; completion_tokens: number },
): void {
  total.prompt_tokens += usage.prompt_tokens;
  total.completion_tokens += usage.completion_tokens;
  total.model_calls += 1;
}

/**
 * One structured call of the memory pipeline: the system prompt and a JSON
 * user message, answered as `name`'s JSON schema and checked with `schema`.
 * Its usage is counted into `usage` (as providers report it, never estimated).
 * @throws ProviderError from the chain; ModelOutputError for an unusable answer
 */
export async function askMemoryModel<S extends z.ZodType>(
  deps: MemoryDeps,
  call: {
    model?: string | null;
    system: string;
    user: unknown;
    name: string;
    jsonSchema: Record<string, unknown>;
    schema: S;
    usage: MemoryUsage;
  },
  signal?: AbortSignal,
): Promise<z.infer<S>> {
  const res = await completeJson(memoryChain(deps, call.model), {
    messages: [
      { role: 'system', content: call.system },
      { role: 'user', content: JSON.stringify(call.user) },
    ],
    format: { type: 'json_schema', name: call.name, schema: call.jsonSchema },
    schema: call.schema,
    missingUsage: 'zero',
    signal,
  });
  const value = validValue(res, call.name);
  addUsage(call.usage, res.usage);
  return value;
}
