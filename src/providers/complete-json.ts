/**
 * The one structured-JSON model call of the platform: ask the provider chain
 * for a JSON answer (non-streaming), parse it leniently and check it with zod.
 * Memory extraction, follow-up suggestions and every dreaming step go through
 * {@link completeJson}; they differ only in what they do with a bad answer.
 */
import type { z } from 'zod';
import type { ModelTarget } from './model-router';
import { classifyProviderError, ProviderError } from './provider-error';
import { estimateUsage, type ChatMessage, type Usage } from './stream-chat';

/** What `response_format` asks for. */
export type JsonFormat =
  /** Strict structured outputs against a named JSON schema. */
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> }
  /** Plain JSON mode: any JSON object; the zod schema alone checks the shape. */
  | { type: 'json_object' };

/** One structured model call. */
export interface JsonCompletionRequest<S extends z.ZodType> {
  messages: ChatMessage[];
  format: JsonFormat;
  /** Checks what the model returned. */
  schema: S;
  /**
   * Usage to account when a provider reports none: a 4-characters-per-token
   * estimate, or zeros. @default 'estimate'
   */
  missingUsage?: 'estimate' | 'zero';
  signal?: AbortSignal;
}

/** Whether the answer was JSON of the asked shape. */
export type JsonVerdict<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'not_json' }
  | { ok: false; reason: 'wrong_shape'; issues: z.ZodError['issues'] };

/** A model's answer to a {@link JsonCompletionRequest}, valid or not. */
export interface JsonCompletion<T> {
  /** The answer's text exactly as the model wrote it. */
  content: string;
  verdict: JsonVerdict<T>;
  usage: Usage;
  provider: string;
  model: string;
}

/**
 * Ask the chain for JSON: primary first, the next provider on a retryable
 * failure (429, 5xx, timeout), as streaming turns do. The first provider that
 * answers decides: an answer that is not valid JSON of the schema is returned
 * with its verdict, not retried elsewhere (retrying the same prompt rarely
 * helps; the caller chooses to correct, skip or fail).
 * @throws ProviderError at once when a failure is not retryable, or with the
 *   last failure when every provider failed
 * @throws the abort reason when `signal` aborts
 */
export async function completeJson<S extends z.ZodType>(
  chain: ModelTarget[],
  request: JsonCompletionRequest<S>,
): Promise<JsonCompletion<z.infer<S>>> {
  let lastError: ProviderError | undefined;
  for (const target of chain) {
    let answer: { content: string; usage: Usage };
    try {
      answer = await ask(target, request);
    } catch (err) {
      if (request.signal?.aborted) throw err;
      lastError = classifyProviderError(err, target.provider);
      if (!lastError.retryable) throw lastError;
      continue;
    }
    return {
      ...answer,
      verdict: judge(request.schema, answer.content),
      provider: target.provider,
      model: target.model,
    };
  }
  throw lastError ?? new ProviderError('no provider configured for this model', false);
}

async function ask(
  target: ModelTarget,
  request: JsonCompletionRequest<z.ZodType>,
): Promise<{ content: string; usage: Usage }> {
  const format = request.format;
  const res = await target.client.chat.completions.create(
    {
      model: target.model,
      messages: request.messages,
      temperature: 0,
      response_format:
        format.type === 'json_schema'
          ? {
              type: 'json_schema',
              json_schema: { name: format.name, schema: format.schema, strict: true },
            }
          : { type: 'json_object' },
    },
    { signal: request.signal, timeout: target.timeoutMs },
  );
  const content = res.choices[0]?.message?.content ?? '';
  if ((request.missingUsage ?? 'estimate') === 'zero')
    return {
      content,
      usage: {
        prompt_tokens: res.usage?.prompt_tokens ?? 0,
        completion_tokens: res.usage?.completion_tokens ?? 0,
        total_tokens: res.usage?.total_tokens ?? 0,
      },
    };
  const usage = res.usage
    ? {
        prompt_tokens: res.usage.prompt_tokens,
        completion_tokens: res.usage.completion_tokens,
        total_tokens: res.usage.total_tokens,
      }
    : estimateUsage(request.messages, content);
  return { content, usage };
}

function judge<S extends z.ZodType>(schema: S, content: string): JsonVerdict<z.infer<S>> {
  const json = parseLenient(content);
  if (json === NOT_JSON) return { ok: false, reason: 'not_json' };
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, reason: 'wrong_shape', issues: parsed.error.issues };
}

const NOT_JSON = Symbol('not JSON');

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
        // not JSON either way
      }
    }
    return NOT_JSON;
  }
}

/** The model answered, but not with JSON of the asked shape; retrying the same prompt rarely helps. */
export class ModelOutputError extends Error {
  override name = 'ModelOutputError';
}

/**
 * The checked value of a completion, for callers that cannot use a bad answer.
 * @param name what was asked for (the schema's name), for the message
 * @throws ModelOutputError when the answer was not JSON, or JSON of another shape
 */
export function validValue<T>(completion: JsonCompletion<T>, name: string): T {
  const verdict = completion.verdict;
  if (verdict.ok) return verdict.value;
  if (verdict.reason === 'not_json')
    throw new ModelOutputError(
      `the model did not answer with JSON: "${completion.content.trim().slice(0, 80)}"`,
    );
  throw new ModelOutputError(
    `${completion.provider} answered ${name} with JSON of another shape: ${verdict.issues[0]?.message ?? 'invalid'}`,
  );
}
