/** Model calls of the memory pipeline: which chain serves them, how their usage adds up. */
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
