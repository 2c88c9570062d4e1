import type OpenAI from 'openai';
import type { ModelTarget } from './model-router';
import { classifyProviderError, ProviderError } from './provider-error';

export type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
export type ChatTool = OpenAI.Chat.Completions.ChatCompletionTool;

export interface ChatStepRequest {
  messages: ChatMessage[];
  tools?: ChatTool[];
  temperature?: number;
  max_tokens?: number;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text exactly as the model produced it. */
  arguments: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Extended events carried by the simulator (and any provider that adopts the field). */
export interface ExtendedEvent {
  type: 'progress' | 'metadata' | 'action_request' | 'title';
  data: Record<string, unknown>;
}

export interface StreamHandlers {
  onText(text: string): void;
  onReasoning(text: string): void;
  onExtended(event: ExtendedEvent): void;
}

export interface StepResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: string;
  usage: Usage;
  provider: string;
  model: string;
  /** ms from request to the first streamed token, if any arrived. */
  ttftMs?: number;
  /** Providers that failed before producing anything (failover). */
  failovers: { provider: string; message: string }[];
}

interface DeltaExtras {
  reasoning_content?: string;
  reasoning?: string;
  reverie_events?: ExtendedEvent[];
}

/**
 * Stream one model call through the chain. A retryable failure before the first
 * token moves to the next provider; a failure after output has been streamed is
 * thrown (the caller's retry announces the discard). Non-retryable failures are
 * thrown at once.
 * @throws ProviderError
 */
export async function streamChat(
  chain: ModelTarget[],
  request: ChatStepRequest,
  handlers: StreamHandlers,
  signal?: AbortSignal,
): Promise<StepResult> {
  const failovers: StepResult['failovers'] = [];
  for (let i = 0; i < chain.length; i++) {
    const target = chain[i];
    let produced = false;
    try {
      return await streamFromTarget(
        target,
        request,
        handlers,
        signal,
        () => (produced = true),
        failovers,
      );
    } catch (err) {
      if (signal?.aborted) throw err;
      const failure = classifyProviderError(err, target.provider);
      const last = i === chain.length - 1;
      if (produced || !failure.retryable || last) throw failure;
      failovers.push({ provider: target.provider, message: failure.message });
    }
  }
  throw new ProviderError('no provider configured for this model', false);
}

async function streamFromTarget(
  target: ModelTarget,
  request: ChatStepRequest,
  handlers: StreamHandlers,
  signal: AbortSignal | undefined,
  markProduced: () => void,
  failovers: StepResult['failovers'],
): Promise<StepResult> {
  const started = Date.now();
  let ttftMs: number | undefined;
  const stream = await target.client.chat.completions.create(
    {
      model: target.model,
      messages: request.messages,
      tools: request.tools && request.tools.length > 0 ? request.tools : undefined,
      temperature: request.temperature,
      max_tokens: request.max_tokens,
      stream: true,
      stream_options: { include_usage: true },
    },
    { signal, timeout: target.timeoutMs },
  );
  let text = '';
  let finishReason = 'stop';
  let usage: Usage | undefined;
  const calls = new Map<number, ToolCall>();
  for await (const chunk of stream) {
    if (chunk.usage) {
      usage = {
        prompt_tokens: chunk.usage.prompt_tokens,
        completion_tokens: chunk.usage.completion_tokens,
        total_tokens: chunk.usage.total_tokens,
      };
    }
    const choice = chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta as typeof choice.delta & DeltaExtras;
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) {
      ttftMs ??= Date.now() - started;
      markProduced();
      handlers.onReasoning(reasoning);
    }
    for (const event of delta.reverie_events ?? []) {
      markProduced();
      handlers.onExtended(event);
    }
    if (delta.content) {
      ttftMs ??= Date.now() - started;
      markProduced();
      text += delta.content;
      handlers.onText(delta.content);
    }
    for (const tc of delta.tool_calls ?? []) {
      markProduced();
      const call = calls.get(tc.index) ?? { id: '', name: '', arguments: '' };
      if (tc.id) call.id = tc.id;
      if (tc.function?.name) call.name += tc.function.name;
      if (tc.function?.arguments) call.arguments += tc.function.arguments;
      calls.set(tc.index, call);
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  // An aborted SDK stream ends its loop quietly: that is not an answer.
  if (signal?.aborted) throw signal.reason ?? new Error('aborted');
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  return {
    text,
    toolCalls,
    finishReason,
    usage: usage ?? estimateUsage(request.messages, text, toolCalls),
    provider: target.provider,
    model: target.model,
    ttftMs,
    failovers,
  };
}

/** Rough token estimate (4 chars per token) for providers that report no usage. */
export function estimateUsage(
  messages: ChatMessage[],
  text: string,
  toolCalls: ToolCall[] = [],
): Usage {
  const promptChars = messages.reduce(
    (n, m) =>
      n +
      (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length),
    0,
  );
  const completionChars =
    text.length + toolCalls.reduce((n, c) => n + c.name.length + c.arguments.length, 0);
  const prompt_tokens = Math.ceil(promptChars / 4);
  const completion_tokens = Math.ceil(completionChars / 4);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}
