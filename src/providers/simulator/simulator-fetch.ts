import { readConversation, systemText, type ChatRequest } from './conversation';
import { SIMULATOR_MODEL_ID } from './model-id';
import { paced, wait } from './pacing';
import {
  completionBody,
  errorResponse,
  json,
  modelObject,
  streamFrames,
  structuredCompletion,
} from './responses';
import type { ScriptedResponder } from './scripted-responder';
import { planTurn } from './turn-script';

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
  /**
   * Canned JSON answers, tried in order before the scripted demo turn; the
   * first that answers wins. @default [] (every request gets the demo turn)
   */
  responders?: readonly ScriptedResponder[];
}

const DEFAULT_TOKEN_DELAY_MS = 15;
const SLOW_TOKEN_DELAY_MS = 50;

/**
 * Build a `fetch` that answers like an OpenAI-compatible server hosting the
 * simulator model.
 *
 * Routes: `POST …/chat/completions` (streaming and not), `GET …/models`,
 * `GET …/models/simulator`; anything else is a 404 with an OpenAI error body.
 * A chat request that one of `options.responders` answers gets that canned
 * JSON as one non-streaming completion. Otherwise, commands in the last user
 * message: `[simulate:error]` answers 500, `[simulate:slow]` paces chunks
 * 50 ms apart, `[simulate:long]` streams about 200 content chunks. The
 * request's `signal` is honoured: aborting fails the pending response or body
 * read with an `AbortError`.
 *
 * @example
 * new OpenAI({ apiKey: 'simulator', baseURL: 'http://simulator.local/v1', fetch: createSimulatorFetch() })
 */
export function createSimulatorFetch(options: SimulatorOptions = {}): typeof fetch {
  const baseDelay = options.tokenDelayMs ?? DEFAULT_TOKEN_DELAY_MS;
  const seed = options.seed ?? 0;
  const responders = options.responders ?? [];

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

    const parsed = await readChatRequest(input, init);
    if (parsed instanceof Response) return parsed;
    const request = parsed;

    const conversation = readConversation(request);
    const scripted = {
      system: systemText(request),
      firstUser: conversation.firstUser,
      lastUser: conversation.lastUser,
    };
    for (const responder of responders) {
      const answer = responder(scripted);
      if (!answer) continue;
      if (answer.thinkTokens)
        await wait(
          baseDelay * answer.thinkTokens,
          signal ?? undefined,
          new AbortController().signal,
        );
      return json(200, structuredCompletion(answer.value, request.model));
    }
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

/** The request body as a chat request, or the 400 answer to a body that is not one. */
async function readChatRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<ChatRequest | Response> {
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
  return request;
}
