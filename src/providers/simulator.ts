/**
 * The built-in `simulator` model: an OpenAI-compatible chat-completions API
 * that runs in-process behind a `fetch` function.
 *
 * The platform hands {@link createSimulatorFetch} to the real `openai` client,
 * so a simulated turn takes exactly the production path (client → SSE stream
 * → provider parsing) without a network or an API key. Each turn is a scripted
 * demo of every reverie event: reasoning, progress, a real `lookup` tool call,
 * streamed markdown, metadata, an action-request card, a title and usage.
 * Events that plain OpenAI chunks cannot carry ride on the chunk delta as
 * `delta.reverie_events`.
 *
 * Output is a pure function of the request and the seed (only `created`
 * follows the clock), so tests and workflow replays see the same text twice.
 */
import { createHash } from 'node:crypto';
import { simulatedDreamAnswer } from '../dreaming/simulated-answers';
import { simulateMemoryCall } from '../memory/simulated-memory-model';
import { simulatedSuggestions } from '../suggestions/follow-ups';

/** Model id under which the simulator is listed and selected. */
export const SIMULATOR_MODEL_ID = 'simulator';

/** Options of {@link createSimulatorFetch}. */
export interface SimulatorOptions {
  /**
   * Pause between content chunks; reasoning and progress steps pause three
   * times as long so a demo visibly "thinks". `0` streams without timers.
   * @default 15
   */
  tokenDelayMs?: number;
  /** Mixed into generated ids and the metadata confidence. @default 0 */
  seed?: number;
}

/** An event the simulator sends in `delta.reverie_events` (shapes as in API.md). */
export type SimulatorEvent =
  | {
      type: 'progress';
      data: {
        step: number;
        total_steps: number;
        label: string;
        status: 'in_progress' | 'completed';
      };
    }
  | { type: 'metadata'; data: Record<string, unknown> }
  | { type: 'action_request'; data: { card: ActionCard } }
  | { type: 'title'; data: { title: string } };

/** A small card asking the user for a decision. */
export interface ActionCard {
  id: string;
  title: string;
  description: string;
  actions: { id: string; label: string; style: 'primary' | 'secondary' | 'destructive' }[];
}

/** Name of the platform tool the simulator calls when it sees a session id. */
const LOOKUP_TOOL = 'lookup';
const DEFAULT_TOKEN_DELAY_MS = 15;
const SLOW_TOKEN_DELAY_MS = 50;
/** Reasoning and progress frames wait this many token delays: thinking looks slower than typing. */
const STEP_PAUSE = 3;
const TOTAL_STEPS = 3;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * Build a `fetch` that answers like an OpenAI-compatible server hosting the
 * simulator model.
 *
 * Routes: `POST …/chat/completions` (streaming and not), `GET …/models`,
 * `GET …/models/simulator`; anything else is a 404 with an OpenAI error body.
 * Commands in the last user message: `[simulate:error]` answers 500,
 * `[simulate:slow]` paces chunks 50 ms apart, `[simulate:long]` streams about
 * 200 content chunks. The request's `signal` is honoured: aborting fails the
 * pending response or body read with an `AbortError`.
 *
 * @example
 * new OpenAI({ apiKey: 'simulator', baseURL: 'http://simulator.local/v1', fetch: createSimulatorFetch() })
 */
export function createSimulatorFetch(options: SimulatorOptions = {}): typeof fetch {
  const baseDelay = options.tokenDelayMs ?? DEFAULT_TOKEN_DELAY_MS;
  const seed = options.seed ?? 0;

  return async function simulatorFetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    signal?.throwIfAborted();
    const url = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    const method = (
      init?.method ?? (input instanceof Request ? input.method : 'GET')
    ).toUpperCase();

    if (method === 'GET' && /\/models\/?$/.test(url.pathname))
      return json(200, { object: 'list', data: [modelObject()] });
    if (method === 'GET' && url.pathname.endsWith(`/models/${SIMULATOR_MODEL_ID}`))
      return json(200, modelObject());
    if (method !== 'POST' || !url.pathname.endsWith('/chat/completions')) {
      return errorResponse(
        404,
        `Unknown route: ${method} ${url.pathname}`,
        'invalid_request_error',
        'not_found',
      );
    }

    const raw =
      init?.body != null
        ? await new Response(init.body).text()
        : input instanceof Request
          ? await input.text()
          : '';
    let request: ChatRequest;
    try {
      request = JSON.parse(raw) as ChatRequest;
    } catch {
      return errorResponse(
        400,
        'Request body is not valid JSON',
        'invalid_request_error',
        'invalid_json',
      );
    }
    if (!Array.isArray(request.messages))
      return errorResponse(
        400,
        "'messages' must be an array",
        'invalid_request_error',
        'invalid_messages',
      );

    const conversation = readConversation(request);
    const dreamAnswer = simulatedDreamAnswer(systemText(request), conversation.firstUser);
    if (dreamAnswer) {
      // A dreaming step answers in one piece, after thinking for ten token delays.
      await wait(baseDelay * 10, signal ?? undefined, new AbortController().signal);
      return json(200, structuredCompletion(dreamAnswer, request.model));
    }
    const memoryAnswer = simulateMemoryCall(systemText(request), conversation.lastUser);
    if (memoryAnswer) return json(200, structuredCompletion(memoryAnswer, request.model));
    const suggestions = simulatedSuggestions(systemText(request), conversation.lastUser);
    if (suggestions) return json(200, structuredCompletion(suggestions, request.model));
    if (conversation.lastUser.includes('[simulate:error]')) {
      return errorResponse(
        500,
        'The simulator failed on purpose ([simulate:error])',
        'server_error',
        'simulated_error',
      );
    }
    const turn = planTurn(conversation, seed);
    const completion = {
      id: `chatcmpl-sim-${turn.hash.slice(0, 16)}`,
      created: Math.floor(Date.now() / 1000),
      model: request.model ?? SIMULATOR_MODEL_ID,
    };
    if (!request.stream) return json(200, completionBody(turn, completion));

    const delay = conversation.lastUser.includes('[simulate:slow]')
      ? SLOW_TOKEN_DELAY_MS
      : baseDelay;
    const frames = streamFrames(turn, completion, request.stream_options?.include_usage === true);
    return new Response(paced(frames, delay, signal ?? undefined), {
      status: 200,
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-request-id': `req_sim_${turn.hash.slice(0, 12)}`,
      },
    });
  };
}

// ---------------------------------------------------------------------------
// Reading the request

interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
  tool_call_id?: string;
}

interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { type?: string; function?: { name?: string } }[];
}

/** The facts of a conversation the script depends on. */
interface Conversation {
  messages: ChatMessage[];
  lastRole: string;
  lastUser: string;
  firstUser: string;
  userTurns: number;
  /** The session uuid named in the system prompt, if any. */
  sessionId?: string;
  canLookup: boolean;
  /** Set when the last message is a tool result. */
  toolResult?: { id: string; content: string };
}

function readConversation(request: ChatRequest): Conversation {
  const messages = request.messages;
  const users = messages.filter((m) => m.role === 'user').map((m) => contentText(m.content));
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => contentText(m.content))
    .join('\n');
  // Prefer the id the platform labels `Session:`; any uuid will do otherwise.
  const sessionId = (
    /Session:\s*([0-9a-f-]{36})/i.exec(system)?.[1] ?? UUID.exec(system)?.[0]
  )?.toLowerCase();
  const last = messages[messages.length - 1];
  const conversation: Conversation = {
    messages,
    lastRole: last?.role ?? 'user',
    lastUser: users[users.length - 1] ?? '',
    firstUser: users[0] ?? '',
    userTurns: users.length,
    sessionId,
    canLookup: (request.tools ?? []).some((t) => t.function?.name === LOOKUP_TOOL),
  };
  if (last?.role === 'tool')
    conversation.toolResult = {
      id: lookedUpId(messages, last.tool_call_id) ?? sessionId ?? 'unknown',
      content: contentText(last.content),
    };
  return conversation;
}

/** The `id` argument of the assistant tool call that the tool message answers. */
function lookedUpId(messages: ChatMessage[], toolCallId: string | undefined): string | undefined {
  for (const message of [...messages].reverse()) {
    const call =
      message.tool_calls?.find((c) => c.id === toolCallId) ??
      message.tool_calls?.find((c) => c.function?.name === LOOKUP_TOOL);
    if (!call) continue;
    try {
      const args = JSON.parse(call.function?.arguments ?? '{}') as { id?: unknown };
      return typeof args.id === 'string' ? args.id : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: unknown }) =>
      part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

// ---------------------------------------------------------------------------
// The script

interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

interface Delta {
  role?: 'assistant';
  content?: string | null;
  reasoning_content?: string;
  tool_calls?: ToolCallDelta[];
  reverie_events?: SimulatorEvent[];
}

/** One chunk of the answer and how many token delays to wait before it. */
interface Step {
  delta: Delta;
  pause: number;
}

interface Turn {
  hash: string;
  steps: Step[];
  finishReason: 'stop' | 'tool_calls';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** Script the whole answer to one model call; the same conversation and seed give the same turn. */
function planTurn(c: Conversation, seed: number): Turn {
  const hash = createHash('sha256')
    .update(`${seed}\n${JSON.stringify(c.messages)}`)
    .digest('hex');
  const steps: Step[] = [{ delta: { role: 'assistant', content: '' }, pause: 0 }];
  const think = (text: string) =>
    steps.push({ delta: { reasoning_content: `${text}\n` }, pause: STEP_PAUSE });
  const emit = (...events: SimulatorEvent[]) =>
    steps.push({ delta: { reverie_events: events }, pause: STEP_PAUSE });
  const progress = (
    step: number,
    label: string,
    status: 'in_progress' | 'completed',
  ): SimulatorEvent => ({
    type: 'progress',
    data: { step, total_steps: TOTAL_STEPS, label, status },
  });

  const firstCall = c.lastRole === 'user';
  if (firstCall && c.userTurns === 1)
    emit({ type: 'title', data: { title: titleFrom(c.firstUser) } });

  if (firstCall && c.sessionId && c.canLookup) {
    emit(progress(1, 'Reading your message', 'in_progress'));
    think(
      `The user wrote ${wordCount(c.lastUser)} words in turn ${c.userTurns} of this conversation.`,
    );
    think(`The system prompt names session ${c.sessionId}, so I will look it up before answering.`);
    emit(
      progress(1, 'Reading your message', 'completed'),
      progress(2, 'Looking up context', 'in_progress'),
    );
    const args = JSON.stringify({ id: c.sessionId });
    const callId = `call_sim_${hash.slice(0, 12)}`;
    steps.push({
      delta: {
        tool_calls: [
          {
            index: 0,
            id: callId,
            type: 'function',
            function: { name: LOOKUP_TOOL, arguments: '' },
          },
        ],
      },
      pause: 1,
    });
    for (const piece of thirds(args))
      steps.push({
        delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] },
        pause: 1,
      });
    return finishTurn(c, hash, steps, 'tool_calls');
  }

  if (c.toolResult) {
    think(`The lookup of ${c.toolResult.id} returned ${c.toolResult.content.length} characters.`);
    think('That is enough context; I will write the answer in markdown.');
    emit(progress(2, 'Looking up context', 'completed'));
  } else {
    emit(progress(1, 'Reading your message', 'in_progress'));
    think(
      `The user wrote ${wordCount(c.lastUser)} words in turn ${c.userTurns} of this conversation.`,
    );
    think('No lookup is needed, so I can answer straight away.');
    think('A heading, a list and a code block will show how markdown streams.');
    emit(
      progress(1, 'Reading your message', 'completed'),
      progress(2, 'Gathering context', 'completed'),
    );
  }

  emit(progress(3, 'Writing the answer', 'in_progress'));
  for (const content of chunkText(answerMarkdown(c))) steps.push({ delta: { content }, pause: 1 });
  emit(progress(3, 'Writing the answer', 'completed'));
  emit({
    type: 'metadata',
    data: {
      confidence: 0.8 + (parseInt(hash.slice(0, 4), 16) % 20) / 100,
      sources: c.toolResult ? [`${LOOKUP_TOOL}:${c.toolResult.id}`] : [],
      model: SIMULATOR_MODEL_ID,
      turn: c.userTurns,
    },
  });
  emit({ type: 'action_request', data: { card: feedbackCard(hash) } });
  return finishTurn(c, hash, steps, 'stop');
}

function finishTurn(
  c: Conversation,
  hash: string,
  steps: Step[],
  finishReason: Turn['finishReason'],
): Turn {
  const promptChars = c.messages.reduce(
    (n, m) =>
      n + contentText(m.content).length + (m.tool_calls ? JSON.stringify(m.tool_calls).length : 0),
    0,
  );
  const completionChars = steps.reduce(
    (n, { delta }) =>
      n +
      (delta.content ?? '').length +
      (delta.reasoning_content ?? '').length +
      (delta.tool_calls?.[0]?.function.arguments.length ?? 0),
    0,
  );
  const prompt_tokens = Math.ceil(promptChars / 4);
  const completion_tokens = Math.ceil(completionChars / 4);
  return {
    hash,
    steps,
    finishReason,
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  };
}

function answerMarkdown(c: Conversation): string {
  const lines = ['## Simulated answer', '', `You said: "${c.lastUser}"`, ''];
  if (c.toolResult) {
    const excerpt = c.toolResult.content.replace(/\s+/g, ' ').trim().slice(0, 80);
    lines.push(
      `I looked up \`${c.toolResult.id}\` with the \`${LOOKUP_TOOL}\` tool and got back ${c.toolResult.content.length} characters: "${excerpt}".`,
      '',
    );
  }
  lines.push(
    "This reply comes from reverie's built-in **simulator** model, so every event type shows up:",
    '',
    '- **Reasoning** streamed before the answer',
    '- **Progress** for each step of the turn',
    '- **Tool calls** that run durably as activities',
    '- **Metadata** and an **action request** card after the text',
    '',
    '```ts',
    "const stream = await client.chat.completions.create({ model: 'simulator', messages, stream: true });",
    "for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');",
    '```',
    '',
    `This is turn ${c.userTurns} of the conversation.`,
  );
  if (c.lastUser.includes('[simulate:long]')) {
    lines.push('', '### More detail', '');
    for (let i = 1; i <= 45; i++) lines.push(`${i}. Detail line ${i} of the long answer.`);
  }
  return lines.join('\n');
}

function feedbackCard(hash: string): ActionCard {
  return {
    id: `feedback-${hash.slice(0, 8)}`,
    title: 'Was this helpful?',
    description: 'The simulator always asks; a real agent asks when it needs a decision.',
    actions: [
      { id: 'helpful', label: 'Yes', style: 'primary' },
      { id: 'not_helpful', label: 'No', style: 'secondary' },
    ],
  };
}

function titleFrom(message: string): string {
  const words = message
    .replace(/\[simulate:[a-z]+\]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 6);
  if (words.length === 0) return 'New conversation';
  const title = words.join(' ').replace(/[.,;:!?]+$/, '');
  return title.charAt(0).toUpperCase() + title.slice(1);
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Two words (with their trailing space) per chunk, like a fast tokenizer; joins back to `text` exactly. */
function chunkText(text: string): string[] {
  const tokens = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < tokens.length; i += 2) chunks.push(tokens.slice(i, i + 2).join(''));
  return chunks;
}

/** Real providers spread tool arguments over several deltas; clients must concatenate them. */
function thirds(text: string): string[] {
  const size = Math.max(1, Math.ceil(text.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

// ---------------------------------------------------------------------------
// Responses

interface CompletionIds {
  id: string;
  created: number;
  model: string;
}

/** The turn as SSE frames, each with the number of token delays to wait before it. */
function streamFrames(
  turn: Turn,
  ids: CompletionIds,
  includeUsage: boolean,
): { text: string; pause: number }[] {
  const base = { ...ids, object: 'chat.completion.chunk', system_fingerprint: 'fp_simulator' };
  const frame = (payload: object, pause: number) => ({
    text: `data: ${JSON.stringify({ ...base, ...payload })}\n\n`,
    pause,
  });
  const frames = turn.steps.map((s) =>
    frame(
      { choices: [{ index: 0, delta: s.delta, logprobs: null, finish_reason: null }] },
      s.pause,
    ),
  );
  frames.push(
    frame(
      { choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: turn.finishReason }] },
      1,
    ),
  );
  if (includeUsage) frames.push(frame({ choices: [], usage: turn.usage }, 0));
  frames.push({ text: 'data: [DONE]\n\n', pause: 0 });
  return frames;
}

/** The turn folded into one `chat.completion`; extended events ride on the message. */
function completionBody(turn: Turn, ids: CompletionIds): object {
  let content = '';
  let reasoning = '';
  const events: SimulatorEvent[] = [];
  const calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] =
    [];
  for (const { delta } of turn.steps) {
    content += delta.content ?? '';
    reasoning += delta.reasoning_content ?? '';
    events.push(...(delta.reverie_events ?? []));
    for (const call of delta.tool_calls ?? []) {
      const slot = (calls[call.index] ??= {
        id: '',
        type: 'function',
        function: { name: '', arguments: '' },
      });
      slot.id ||= call.id ?? '';
      slot.function.name += call.function.name ?? '';
      slot.function.arguments += call.function.arguments;
    }
  }
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: content === '' && calls.length > 0 ? null : content,
    refusal: null,
  };
  if (reasoning) message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  if (events.length > 0) message.reverie_events = events;
  return {
    ...ids,
    object: 'chat.completion',
    system_fingerprint: 'fp_simulator',
    choices: [{ index: 0, message, logprobs: null, finish_reason: turn.finishReason }],
    usage: turn.usage,
  };
}

/** A body that releases frames one pull at a time, `pause × delayMs` apart, and fails when `signal` aborts. */
function paced(
  frames: { text: string; pause: number }[],
  delayMs: number,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const cancelled = new AbortController();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const frame = frames[next++];
      if (!frame) return controller.close();
      await wait(frame.pause * delayMs, signal, cancelled.signal);
      // The reader may have cancelled while we slept; enqueueing then would throw.
      if (!cancelled.signal.aborted) controller.enqueue(encoder.encode(frame.text));
    },
    cancel() {
      cancelled.abort();
    },
  });
}

/** Sleep `ms`; reject with the abort reason if `signal` aborts, return early if `cancelled` does. */
function wait(ms: number, signal: AbortSignal | undefined, cancelled: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  if (ms <= 0 || cancelled.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(settle, ms);
    signal?.addEventListener('abort', settle, { once: true });
    cancelled.addEventListener('abort', settle, { once: true });
    function settle() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', settle);
      cancelled.removeEventListener('abort', settle);
      // As fetch does: fail with the signal's reason, a DOMException AbortError unless the caller chose one.
      if (signal?.aborted) reject(signal.reason as Error);
      else resolve();
    }
  });
}

/** The system prompt's text (memory calls are recognised by a marker in it). */
function systemText(request: ChatRequest): string {
  return request.messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => contentText(m.content))
    .join('\n');
}

/** A non-streaming answer carrying a JSON value (structured outputs). */
function structuredCompletion(value: object, model: string | undefined): object {
  const content = JSON.stringify(value);
  const completion_tokens = Math.ceil(content.length / 4);
  return {
    id: `chatcmpl-sim-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: model ?? SIMULATOR_MODEL_ID,
    system_fingerprint: 'fp_simulator',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 0, completion_tokens, total_tokens: completion_tokens },
  };
}

function modelObject(): object {
  return { id: SIMULATOR_MODEL_ID, object: 'model', created: 0, owned_by: 'reverie' };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

function errorResponse(status: number, message: string, type: string, code: string): Response {
  return json(status, { error: { message, type, code, param: null } });
}
