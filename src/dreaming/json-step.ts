import type OpenAI from 'openai';
import type { z } from 'zod';
import type { ModelTarget } from '../providers/model-router';
import { classifyProviderError, ProviderError } from '../providers/provider-error';
import { estimateUsage, type Usage } from '../providers/stream-chat';
import { correctionPrompt } from './prompts';

export interface JsonStepRequest<S extends z.ZodType> {
  system: string;
  /** The user message; objects are sent as JSON. */
  user: string | object;
  schema: S;
  /** Answers checked before giving up on this step. @default 2 */
  maxAttempts?: number;
  signal?: AbortSignal;
  /** Called after every model call (valid or not), to account its usage. */
  onCall?: (usage: Usage) => Promise<void> | void;
}

export interface JsonStepResult<T> {
  /** Undefined when every answer was invalid: the caller skips the step. */
  value: T | undefined;
  /** Why answers were rejected, for the run's warnings. */
  warnings: string[];
  usage: Usage;
  calls: number;
  /** The model that answered last (provenance). */
  model: string;
}

/**
 * One structured model step of a dreaming run: ask for JSON, check it with
 * zod, and on an invalid answer ask again with the validation error; after
 * `maxAttempts` invalid answers, give up without failing (the caller records a
 * warning and skips). Provider failures move along the chain on retryable
 * errors, as turns do, and are thrown when the chain is exhausted.
 * @throws ProviderError when every provider failed
 */
export async function runJsonStep<S extends z.ZodType>(
  chain: ModelTarget[],
  request: JsonStepRequest<S>,
): Promise<JsonStepResult<z.infer<S>>> {
  const maxAttempts = request.maxAttempts ?? 2;
  const user = typeof request.user === 'string' ? request.user : JSON.stringify(request.user);
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
    { role: 'system', content: request.system },
    { role: 'user', content: user },
  ];
  const total: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const warnings: string[] = [];
  let model = chain[0]?.model ?? 'unknown';
  let calls = 0;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const answer = await complete(chain, messages, request.signal);
    calls++;
    model = answer.model;
    total.prompt_tokens += answer.usage.prompt_tokens;
    total.completion_tokens += answer.usage.completion_tokens;
    total.total_tokens += answer.usage.total_tokens;
    await request.onCall?.(answer.usage);
    const problem = check(request.schema, answer.content);
    if (problem.ok) return { value: problem.value, warnings, usage: total, calls, model };
    warnings.push(`attempt ${attempt}: ${problem.message}`);
    messages.push(
      { role: 'assistant', content: answer.content },
      { role: 'user', content: correctionPrompt(problem.message) },
    );
  }
  return { value: undefined, warnings, usage: total, calls, model };
}

function check<S extends z.ZodType>(
  schema: S,
  content: string,
): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = parseLenient(content);
  } catch {
    return { ok: false, message: `not JSON: "${content.slice(0, 80)}"` };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return { ok: false, message: issues.join('; ') };
}

/** JSON, also when wrapped in a code fence or prose (models without JSON mode). */
function parseLenient(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch (err) {
    const start = trimmed.indexOf('{');
    const end = trimmed.lastIndexOf('}');
    if (start >= 0 && end > start) return JSON.parse(trimmed.slice(start, end + 1));
    throw err;
  }
}

async function complete(
  chain: ModelTarget[],
  messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[],
  signal: AbortSignal | undefined,
): Promise<{ content: string; usage: Usage; model: string }> {
  let lastError: ProviderError | undefined;
  for (const target of chain) {
    try {
      const res = await target.client.chat.completions.create(
        { model: target.model, messages, temperature: 0, response_format: { type: 'json_object' } },
        { signal, timeout: target.timeoutMs },
      );
      const content = res.choices[0]?.message?.content ?? '';
      const usage = res.usage
        ? {
            prompt_tokens: res.usage.prompt_tokens,
            completion_tokens: res.usage.completion_tokens,
            total_tokens: res.usage.total_tokens,
          }
        : estimateUsage(messages, content);
      return { content, usage, model: target.model };
    } catch (err) {
      if (signal?.aborted) throw err;
      lastError = classifyProviderError(err, target.provider);
      if (!lastError.retryable) throw lastError;
    }
  }
  throw lastError ?? new ProviderError('no provider configured for this model', false);
}
