import type { z } from 'zod';
import type { ModelTarget } from '../providers/model-router';
import { classifyProviderError, ProviderError } from '../providers/provider-error';
import type { Usage } from '../providers/stream-chat';

/** A structured (non-streaming) model call: a JSON schema in, a checked value out. */
export interface JsonTask<S extends z.ZodType> {
  system: string;
  /** The user message; objects are sent as JSON. */
  user: string | object;
  /** Name and JSON schema for `response_format` (strict structured outputs). */
  schemaName: string;
  jsonSchema: Record<string, unknown>;
  /** Checks what the model returned. */
  parse: S;
}

export interface JsonResult<T> {
  value: T;
  usage: Usage;
  provider: string;
  model: string;
}

/** The model answered, but not with JSON of the asked shape; retrying the same prompt rarely helps. */
export class ModelOutputError extends Error {
  override name = 'ModelOutputError';
}

/**
 * Ask the provider chain for JSON matching a schema: primary first, the next
 * provider on a retryable failure (429, 5xx, timeout), as streaming turns do.
 * @throws ProviderError when every provider failed (its `retryable` says whether a later retry may help)
 * @throws ModelOutputError when the answer is not JSON of the expected shape
 */
export async function completeJson<S extends z.ZodType>(
  chain: ModelTarget[],
  task: JsonTask<S>,
  signal?: AbortSignal,
): Promise<JsonResult<z.infer<S>>> {
  const user = typeof task.user === 'string' ? task.user : JSON.stringify(task.user);
  let lastError: ProviderError | undefined;
  for (const target of chain) {
    let content: string | null | undefined;
    let usage: Usage;
    try {
      const res = await target.client.chat.completions.create(
        {
          model: target.model,
          messages: [
            { role: 'system', content: task.system },
            { role: 'user', content: user },
          ],
          temperature: 0,
          response_format: {
            type: 'json_schema',
            json_schema: { name: task.schemaName, schema: task.jsonSchema, strict: true },
          },
        },
        { signal, timeout: target.timeoutMs },
      );
      content = res.choices[0]?.message?.content;
      usage = {
        prompt_tokens: res.usage?.prompt_tokens ?? 0,
        completion_tokens: res.usage?.completion_tokens ?? 0,
        total_tokens: res.usage?.total_tokens ?? 0,
      };
    } catch (err) {
      if (signal?.aborted) throw err;
      lastError = classifyProviderError(err, target.provider);
      if (!lastError.retryable) throw lastError;
      continue;
    }
    const parsed = task.parse.safeParse(parseLenient(content ?? ''));
    if (!parsed.success) {
      throw new ModelOutputError(
        `${target.provider} answered ${task.schemaName} with JSON of another shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    return { value: parsed.data, usage, provider: target.provider, model: target.model };
  }
  throw lastError ?? new ProviderError('no provider configured for this model', false);
}

/** JSON, also when wrapped in a code fence or prose (models without structured outputs). */
function parseLenient(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const start = trimmed.indexOf('{');
    const end = trimmed.lastIndexOf('}');
    if (start >= 0 && end > start) {
      try {
        return JSON.parse(trimmed.slice(start, end + 1));
      } catch {
        // fall through
      }
    }
    throw new ModelOutputError(`the model did not answer with JSON: "${trimmed.slice(0, 80)}"`);
  }
}
