import type { z } from 'zod';
import { completeJson, type JsonCompletion } from '../providers/complete-json';
import type { ModelTarget } from '../providers/model-router';
import type { ChatMessage, Usage } from '../providers/stream-chat';
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
  const messages: ChatMessage[] = [
    { role: 'system', content: request.system },
    { role: 'user', content: user },
  ];
  const total: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const warnings: string[] = [];
  let model = chain[0]?.model ?? 'unknown';
  let calls = 0;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const answer = await completeJson(chain, {
      messages,
      format: { type: 'json_object' },
      schema: request.schema,
      signal: request.signal,
    });
    calls++;
    model = answer.model;
    total.prompt_tokens += answer.usage.prompt_tokens;
    total.completion_tokens += answer.usage.completion_tokens;
    total.total_tokens += answer.usage.total_tokens;
    await request.onCall?.(answer.usage);
    if (answer.verdict.ok)
      return { value: answer.verdict.value, warnings, usage: total, calls, model };
    const problem = problemOf(answer);
    warnings.push(`attempt ${attempt}: ${problem}`);
    messages.push(
      { role: 'assistant', content: answer.content },
      { role: 'user', content: correctionPrompt(problem) },
    );
  }
  return { value: undefined, warnings, usage: total, calls, model };
}

/** The rejection message the run's warnings and the correction prompt carry. */
function problemOf(answer: JsonCompletion<unknown>): string {
  const verdict = answer.verdict;
  if (verdict.ok) return '';
  if (verdict.reason === 'not_json') return `not JSON: "${answer.content.slice(0, 80)}"`;
  return verdict.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
