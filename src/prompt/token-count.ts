import type { ChatMessage, ChatTool } from '../providers/stream-chat';

/**
 * Real token counts (BPE, gpt-tokenizer) for prompt budgets: o200k_base for
 * the GPT-4o / 4.1 / 5 and o-series families and for unknown models (a close
 * estimate for other BPE vocabularies), cl100k_base for GPT-4 and GPT-3.5.
 */

type Counter = (text: string) => number;
const counters = new Map<string, Counter>();

function counterFor(encoding: 'o200k_base' | 'cl100k_base'): Counter {
  let counter = counters.get(encoding);
  if (!counter) {
    // Loaded on first use, synchronously: a vocabulary takes 0.2-0.5 s to load,
    // which processes that never count tokens (the API's other routes) should not pay.
    const mod =
      encoding === 'cl100k_base'
        ? // eslint-disable-next-line @typescript-eslint/no-require-imports
          (require('gpt-tokenizer/encoding/cl100k_base') as { countTokens: Counter })
        : // eslint-disable-next-line @typescript-eslint/no-require-imports
          (require('gpt-tokenizer/encoding/o200k_base') as { countTokens: Counter });
    counter = (text: string) => mod.countTokens(text);
    counters.set(encoding, counter);
  }
  return counter;
}

function encodingOf(model: string): 'o200k_base' | 'cl100k_base' {
  return /^(?:gpt-4(?!o|\.1|\.5)|gpt-3\.5|text-embedding-3|text-embedding-ada)/i.test(model)
    ? 'cl100k_base'
    : 'o200k_base';
}

/**
 * Counts of recent texts, by encoding. Every step of a turn counts the whole
 * session history again (and the system prompt, the tools): the same texts,
 * turn after turn, whose counts never change. Bounded, least recently used out.
 */
const CACHE_LIMIT = 20_000;
const cached = new Map<string, number>();

/** Tokens of one text as `model` counts them. */
export function countTextTokens(text: string, model: string): number {
  if (!text) return 0;
  const encoding = encodingOf(model);
  const key = `${encoding}\u0000${text}`;
  const hit = cached.get(key);
  if (hit !== undefined) {
    // Re-inserted: Map order is recency order.
    cached.delete(key);
    cached.set(key, hit);
    return hit;
  }
  const n = counterFor(encoding)(text);
  cached.set(key, n);
  if (cached.size > CACHE_LIMIT) cached.delete(cached.keys().next().value!);
  return n;
}

/** Framing of each chat message (role, separators), as OpenAI documents for its chat format. */
const PER_MESSAGE = 4;
/** The assistant's reply is primed with a few tokens. */
export const REPLY_PRIMING = 3;

/** Tokens a message adds to a prompt. */
export function countMessageTokens(message: ChatMessage, model: string): number {
  let n = PER_MESSAGE;
  const content = (message as { content?: unknown }).content;
  if (typeof content === 'string') n += countTextTokens(content, model);
  else if (Array.isArray(content)) {
    for (const part of content as { type?: string; text?: string }[]) {
      if (part.type === 'text' && part.text) n += countTextTokens(part.text, model);
    }
  }
  const calls = (message as { tool_calls?: { function?: { name?: string; arguments?: string } }[] })
    .tool_calls;
  for (const call of calls ?? []) {
    n +=
      PER_MESSAGE +
      countTextTokens(call.function?.name ?? '', model) +
      countTextTokens(call.function?.arguments ?? '', model);
  }
  return n;
}

/** Tokens of the tool definitions offered with a request (their JSON, a close upper estimate). */
export function countToolTokens(tools: ChatTool[] | undefined, model: string): number {
  if (!tools || tools.length === 0) return 0;
  return countTextTokens(JSON.stringify(tools), model);
}

/** Context windows of well-known models; others get the configured budget alone. */
const CONTEXT_WINDOWS: [RegExp, number][] = [
  [/^gpt-4\.1/i, 1_047_576],
  [/^gpt-5/i, 400_000],
  [/^(?:gpt-4o|o1|o3|o4)/i, 128_000],
  [/^gpt-4-turbo/i, 128_000],
  [/^gpt-4(?!o|\.)/i, 8_192],
  [/^gpt-3\.5/i, 16_385],
  [/^simulator$/i, 32_000],
];

/**
 * The prompt budget for `model`: the configured budget, lowered to fit the
 * model's context window with room for the answer.
 */
export function promptBudget(model: string, configured: number, maxOutputTokens?: number): number {
  const window = CONTEXT_WINDOWS.find(([re]) => re.test(model))?.[1];
  if (!window) return configured;
  const reserve = Math.min(maxOutputTokens ?? 4096, Math.floor(window / 4));
  return Math.min(configured, window - reserve);
}
