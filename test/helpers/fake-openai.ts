/**
 * A fake OpenAI-compatible HTTP server that tests script call by call.
 *
 * Tests point the real `openai` client (or the platform's provider) at
 * `baseURL` and queue one {@link Behaviour} per `POST /v1/chat/completions`
 * call: streamed text, tool calls, HTTP errors, a connection dropped mid-stream,
 * a request that never answers, or a stream held open at a {@link Gate} until
 * the test releases it. It is a real socket on 127.0.0.1 (port 0), so worker
 * processes started by integration tests can reach it too.
 */
import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** Token counts a behaviour may force instead of the ceil(chars / 4) estimate. */
export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** How a streamed answer is paced and cut into chunks. */
export interface StreamPacing {
  /** Wait before the first chunk after the headers. @default 0 */
  firstTokenDelayMs?: number;
  /** Wait between chunks. @default 0 */
  tokenDelayMs?: number;
  /** Characters of content (or reasoning) per chunk. @default 4 */
  chunkChars?: number;
}

/** Answer with `text`, streamed when the request asks for it. */
export interface TextBehaviour extends StreamPacing {
  kind: 'text';
  text: string;
  /** Sent as `delta.reasoning_content` (or `message.reasoning_content`) before the text. */
  reasoning?: string;
  usage?: FakeUsage;
  /** @default 'stop' */
  finishReason?: 'stop' | 'length' | 'content_filter';
}

/** Answer `<prefix><last user message>`; the server's default behaviour. */
export interface EchoBehaviour extends StreamPacing {
  kind: 'echo';
  /** @default 'echo: ' */
  prefix?: string;
}

/** One tool call the fake model makes. */
export interface FakeToolCall {
  /** @default `call_fake_<chat call number>_<index>` */
  id?: string;
  name: string;
  /** An object is JSON-encoded; a string is sent verbatim (so tests can send broken JSON). */
  arguments: Record<string, unknown> | string;
}

/** Call tools (finish_reason `tool_calls`), optionally after some text. */
export interface ToolCallsBehaviour extends StreamPacing {
  kind: 'toolCalls';
  calls: FakeToolCall[];
  text?: string;
  usage?: FakeUsage;
}

/** Fail with an HTTP status before anything is streamed. */
export interface ErrorBehaviour {
  kind: 'error';
  status: number;
  /** JSON-encoded unless a string. @default an OpenAI-shaped `{error: {message, type, code, param}}` */
  body?: unknown;
  /** e.g. `{ 'retry-after': '1' }` on a 429. */
  headers?: Record<string, string>;
}

/** Stream `afterChunks` content chunks of `text`, then destroy the socket. */
export interface DropAfterBehaviour {
  kind: 'dropAfter';
  text: string;
  afterChunks: number;
  tokenDelayMs?: number;
  chunkChars?: number;
}

/** Never answer; the request ends only when the client aborts or the server closes. */
export interface HangBehaviour {
  kind: 'hang';
}

/**
 * Like `text`, but the stream stops after `afterChunks` content chunks and
 * waits at `gate` until the test opens it (a non-streaming request waits
 * before answering at all).
 */
export interface GateBehaviour extends Omit<TextBehaviour, 'kind'> {
  kind: 'gate';
  gate: Gate;
  /** @default 1 */
  afterChunks?: number;
}

/** What the fake does with one chat-completions call. */
export type Behaviour =
  | TextBehaviour
  | EchoBehaviour
  | ToolCallsBehaviour
  | ErrorBehaviour
  | DropAfterBehaviour
  | HangBehaviour
  | GateBehaviour;

/** A request as the server received it, recorded before it is answered. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw string when it is not JSON; undefined when empty. */
  body: unknown;
  /** `Date.now()` when the body had been read. */
  time: number;
}

/** Handle on a running fake server. */
export interface FakeOpenAI {
  /** e.g. `http://127.0.0.1:54321/v1`, ready for `new OpenAI({ baseURL })`. */
  baseURL: string;
  /** Queue behaviours, consumed one per chat-completions call in arrival order. */
  enqueue(...behaviours: Behaviour[]): void;
  /** Behaviour used when the queue is empty (initially `{ kind: 'echo' }`). */
  setDefault(behaviour: Behaviour): void;
  /** Fail the next `POST /v1/embeddings` calls, one error per call; then embeddings answer again. */
  failEmbeddings(...failures: ErrorBehaviour[]): void;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Chat-completions requests only: a shortcut for the usual assertion target. */
  chatRequests(): RecordedRequest[];
  /** Empty the queue and the request log and restore the echo default. */
  reset(): void;
  /** Drop every open connection (hanging and gated ones too) and stop listening. */
  close(): Promise<void>;
}

/**
 * A point in a stream that the test controls: the server resolves `reached`
 * when a gated stream arrives there and holds it until `open()` is called.
 */
export class Gate {
  /** Resolves when a stream first waits at this gate. */
  readonly reached: Promise<void>;
  /** Resolves once `open()` has been called. */
  readonly opened: Promise<void>;
  private resolveReached!: () => void;
  private resolveOpened!: () => void;

  constructor() {
    this.reached = new Promise((resolve) => (this.resolveReached = resolve));
    this.opened = new Promise((resolve) => (this.resolveOpened = resolve));
  }

  /** Let every stream waiting here continue. */
  open(): void {
    this.resolveOpened();
  }

  /** Called by the server when a stream arrives; tests do not need it. */
  arrive(): void {
    this.resolveReached();
  }
}

/** Shorthand for `new Gate()`. */
export function createGate(): Gate {
  return new Gate();
}

const DEFAULT_BEHAVIOUR: Behaviour = { kind: 'echo' };
const DEFAULT_CHUNK_CHARS = 4;
const DEFAULT_EMBEDDING_DIMENSIONS = 384;

/**
 * Start a fake server on 127.0.0.1 with an OS-chosen port.
 *
 * @returns once it is listening; call `close()` in `afterAll`.
 */
export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: Behaviour[] = [];
  const embeddingFailures: ErrorBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  let fallback: Behaviour = DEFAULT_BEHAVIOUR;
  let chatCalls = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug in the fake must show up as a failed request, not an unhandled rejection.
      if (!res.headersSent && !res.destroyed) sendError(res, 500, String(error));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signal = abortOnClose(res);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const body = parseBody(raw);
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      body,
      time: Date.now(),
    });

    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /v1/models') return sendJson(res, 200, modelList());
    if (route === 'POST /v1/embeddings') {
      const failure = embeddingFailures.shift();
      return failure ? sendErrorBehaviour(res, failure) : sendEmbeddings(res, body);
    }
    if (route === 'POST /v1/chat/completions') {
      if (typeof body !== 'object' || body === null)
        return sendError(res, 400, 'Request body must be a JSON object', 'invalid_request_error');
      chatCalls += 1;
      const behaviour = queue.shift() ?? fallback;
      return runChat(res, behaviour, body, chatCalls, signal);
    }
    sendError(res, 404, `Unknown route: ${route}`, 'invalid_request_error', 'not_found');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...behaviours) => void queue.push(...behaviours),
    setDefault: (behaviour) => void (fallback = behaviour),
    failEmbeddings: (...failures) => void embeddingFailures.push(...failures),
    chatRequests: () =>
      requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions'),
    reset: () => {
      queue.length = 0;
      embeddingFailures.length = 0;
      requests.length = 0;
      fallback = DEFAULT_BEHAVIOUR;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // close() alone waits for keep-alive and hanging requests forever.
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------
// Chat completions

interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_calls?: unknown;
}

interface ChatRequest {
  model?: string;
  messages?: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

/** Everything one answer is made of, independent of streaming. */
interface Answer {
  text: string;
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string;
  usage: FakeUsage;
}

async function runChat(
  res: ServerResponse,
  behaviour: Behaviour,
  request: ChatRequest,
  call: number,
  signal: AbortSignal,
): Promise<void> {
  switch (behaviour.kind) {
    case 'error':
      return sendErrorBehaviour(res, behaviour);
    case 'hang':
      await untilAborted(signal);
      return;
    case 'dropAfter':
      return dropAfter(res, behaviour, request, call, signal);
    case 'echo': {
      const text = `${behaviour.prefix ?? 'echo: '}${lastUserText(request)}`;
      return answer(res, request, call, buildAnswer(request, { text }), behaviour, signal);
    }
    case 'text':
      return answer(res, request, call, buildAnswer(request, behaviour), behaviour, signal);
    case 'gate': {
      const pause = { gate: behaviour.gate, afterChunks: behaviour.afterChunks ?? 1 };
      return answer(res, request, call, buildAnswer(request, behaviour), behaviour, signal, pause);
    }
    case 'toolCalls': {
      const toolCalls = behaviour.calls.map((c, i) => ({
        id: c.id ?? `call_fake_${call}_${i}`,
        name: c.name,
        arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
      }));
      const built = buildAnswer(
        request,
        { text: behaviour.text ?? '', usage: behaviour.usage },
        toolCalls,
      );
      return answer(res, request, call, built, behaviour, signal);
    }
  }
}

function buildAnswer(
  request: ChatRequest,
  spec: { text: string; reasoning?: string; usage?: FakeUsage; finishReason?: string },
  toolCalls: Answer['toolCalls'] = [],
): Answer {
  const reasoning = spec.reasoning ?? '';
  const completionChars =
    spec.text.length +
    reasoning.length +
    toolCalls.reduce((n, c) => n + c.name.length + c.arguments.length, 0);
  return {
    text: spec.text,
    reasoning,
    toolCalls,
    finishReason: toolCalls.length > 0 ? 'tool_calls' : (spec.finishReason ?? 'stop'),
    usage: spec.usage ?? {
      prompt_tokens: estimateTokens(promptChars(request)),
      completion_tokens: estimateTokens(completionChars),
    },
  };
}

/** Send a whole answer as `chat.completion` JSON or as SSE chunks, pausing at a gate if given. */
async function answer(
  res: ServerResponse,
  request: ChatRequest,
  call: number,
  built: Answer,
  pacing: StreamPacing,
  signal: AbortSignal,
  pause?: { gate: Gate; afterChunks: number },
): Promise<void> {
  if (!request.stream) {
    if (pause) {
      pause.gate.arrive();
      await Promise.race([pause.gate.opened, untilAborted(signal)]);
      if (signal.aborted) return;
    }
    return sendJson(res, 200, completionJson(request, call, built));
  }

  const sse = startSse(res, request, call);
  await sleep(pacing.firstTokenDelayMs ?? 0, signal);
  sse.delta({
    role: 'assistant',
    content: built.toolCalls.length > 0 && built.text === '' ? null : '',
  });

  const size = pacing.chunkChars ?? DEFAULT_CHUNK_CHARS;
  const deltas = [
    ...split(built.reasoning, size).map((reasoning_content) => ({ reasoning_content })),
    ...split(built.text, size).map((content) => ({ content })),
    ...built.toolCalls.flatMap((c, index) => toolCallDeltas(c, index)),
  ];
  for (const [i, delta] of deltas.entries()) {
    if (pause && i === pause.afterChunks) {
      pause.gate.arrive();
      await Promise.race([pause.gate.opened, untilAborted(signal)]);
    }
    if (i > 0) await sleep(pacing.tokenDelayMs ?? 0, signal);
    if (signal.aborted) return;
    sse.delta(delta);
  }
  if (pause && deltas.length <= pause.afterChunks) {
    // The gate is past the last chunk: hold the stream open before it finishes.
    pause.gate.arrive();
    await Promise.race([pause.gate.opened, untilAborted(signal)]);
    if (signal.aborted) return;
  }
  sse.finish(built.finishReason, built.usage);
}

async function dropAfter(
  res: ServerResponse,
  behaviour: DropAfterBehaviour,
  request: ChatRequest,
  call: number,
  signal: AbortSignal,
): Promise<void> {
  if (!request.stream) {
    res.destroy();
    return;
  }
  const sse = startSse(res, request, call);
  sse.delta({ role: 'assistant', content: '' });
  const chunks = split(behaviour.text, behaviour.chunkChars ?? DEFAULT_CHUNK_CHARS).slice(
    0,
    behaviour.afterChunks,
  );
  for (const content of chunks) {
    await sleep(behaviour.tokenDelayMs ?? 0, signal);
    if (signal.aborted) return;
    sse.delta({ content });
  }
  // Let the written chunks reach the client before the reset, as a real crash mid-stream would.
  await sleep(Math.max(behaviour.tokenDelayMs ?? 0, 10), signal);
  res.socket?.destroy();
}

function toolCallDeltas(c: Answer['toolCalls'][number], index: number): object[] {
  const head = {
    tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }],
  };
  // Real providers spread arguments over several deltas; clients must concatenate them.
  const third = Math.max(1, Math.ceil(c.arguments.length / 3));
  const pieces = split(c.arguments, third).map((piece) => ({
    tool_calls: [{ index, function: { arguments: piece } }],
  }));
  return [head, ...pieces];
}

function startSse(res: ServerResponse, request: ChatRequest, call: number) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': `req_fake_${call}`,
  });
  res.flushHeaders();
  const base = {
    id: `chatcmpl-fake-${call}`,
    object: 'chat.completion.chunk',
    created: nowSeconds(),
    model: request.model ?? 'fake-model',
    system_fingerprint: 'fp_fake',
  };
  const frame = (payload: object) => {
    if (!res.destroyed) res.write(`data: ${JSON.stringify({ ...base, ...payload })}\n\n`);
  };
  return {
    delta: (delta: object) =>
      frame({ choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }),
    finish: (finishReason: string, usage: FakeUsage) => {
      frame({ choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }] });
      if (request.stream_options?.include_usage) frame({ choices: [], usage: withTotal(usage) });
      if (!res.destroyed) res.end('data: [DONE]\n\n');
    },
  };
}

function completionJson(request: ChatRequest, call: number, built: Answer): object {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: built.text === '' && built.toolCalls.length > 0 ? null : built.text,
    refusal: null,
  };
  if (built.reasoning) message.reasoning_content = built.reasoning;
  if (built.toolCalls.length > 0) {
    message.tool_calls = built.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id: `chatcmpl-fake-${call}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: request.model ?? 'fake-model',
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, message, logprobs: null, finish_reason: built.finishReason }],
    usage: withTotal(built.usage),
  };
}

// ---------------------------------------------------------------------------
// Embeddings and models

function sendEmbeddings(res: ServerResponse, body: unknown): void {
  const request = (typeof body === 'object' && body !== null ? body : {}) as {
    input?: unknown;
    model?: string;
    dimensions?: number;
    encoding_format?: string;
  };
  const inputs = normaliseEmbeddingInput(request.input);
  if (inputs === undefined)
    return sendError(
      res,
      400,
      "'input' must be a string, an array of strings or token arrays",
      'invalid_request_error',
    );
  const dimensions = request.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  const data = inputs.map((input, index) => {
    const vector = embed(input, dimensions);
    // The openai client asks for base64 unless the caller chose a format, then decodes float32 itself.
    const embedding =
      request.encoding_format === 'base64'
        ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
        : vector;
    return { object: 'embedding', index, embedding };
  });
  const tokens = estimateTokens(inputs.reduce((n, s) => n + s.length, 0));
  sendJson(res, 200, {
    object: 'list',
    data,
    model: request.model ?? 'fake-embedding',
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function normaliseEmbeddingInput(input: unknown): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'string')) return input;
  if (input.every((x) => typeof x === 'number')) return [JSON.stringify(input)];
  if (input.every((x) => Array.isArray(x))) return input.map((x) => JSON.stringify(x));
  return undefined;
}

/** A unit vector derived from sha256(input): equal inputs give equal vectors, different ones differ. */
export function fakeEmbedding(input: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  return embed(input, dimensions);
}

function embed(input: string, dimensions: number): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${input}`).digest();
    for (let i = 0; i + 2 <= digest.length && values.length < dimensions; i += 2) {
      values.push(digest.readUInt16BE(i) / 32767.5 - 1);
    }
  }
  const norm = Math.hypot(...values) || 1;
  // Round through float32 so JSON and base64 encodings decode to the same numbers.
  return values.map((v) => Math.fround(v / norm));
}

function modelList(): object {
  const ids = ['fake-model', 'fake-embedding'];
  return {
    object: 'list',
    data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake-openai' })),
  };
}

// ---------------------------------------------------------------------------
// Plumbing

function sendErrorBehaviour(res: ServerResponse, behaviour: ErrorBehaviour): void {
  const headers = { ...behaviour.headers };
  if (typeof behaviour.body === 'string') {
    res.writeHead(behaviour.status, { 'content-type': 'text/plain', ...headers });
    res.end(behaviour.body);
    return;
  }
  const body =
    behaviour.body ??
    openAIError(`Fake error ${behaviour.status}`, errorType(behaviour.status), null);
  sendJson(res, behaviour.status, body, headers);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type = errorType(status),
  code: string | null = null,
): void {
  sendJson(res, status, openAIError(message, type, code));
}

function openAIError(message: string, type: string, code: string | null): object {
  return { error: { message, type, code, param: null } };
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Aborts when the response closes early: the client went away or the server is closing. */
function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  return controller.signal;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}

/** Resolves after `ms`, or at once when the signal aborts (callers check `signal.aborted`). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function split(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += Math.max(1, size))
    pieces.push(text.slice(i, i + Math.max(1, size)));
  return pieces;
}

function lastUserText(request: ChatRequest): string {
  const user = [...(request.messages ?? [])].reverse().find((m) => m.role === 'user');
  return user ? contentText(user.content) : '';
}

function promptChars(request: ChatRequest): number {
  return (request.messages ?? []).reduce(
    (n, m) =>
      n + contentText(m.content).length + (m.tool_calls ? JSON.stringify(m.tool_calls).length : 0),
    0,
  );
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: string }) =>
      part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

function withTotal(usage: FakeUsage): FakeUsage & { total_tokens: number } {
  return { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
