/** The simulator's HTTP answers: SSE frames, whole completions, models and errors. */
import { createHash } from 'node:crypto';
import type { SimulatorEvent } from './events';
import { SIMULATOR_MODEL_ID } from './model-id';
import type { Turn } from './turn-script';

export interface CompletionIds {
  id: string;
  created: number;
  model: string;
}

/** The turn as SSE frames, each with the number of token delays to wait before it. */
export function streamFrames(
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
export function completionBody(turn: Turn, ids: CompletionIds): object {
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

/** A non-streaming answer carrying a JSON value (structured outputs). */
export function structuredCompletion(value: object, model: string | undefined): object {
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

export function modelObject(): object {
  return { id: SIMULATOR_MODEL_ID, object: 'model', created: 0, owned_by: 'reverie' };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export function errorResponse(
  status: number,
  message: string,
  type: string,
  code: string,
): Response {
  return json(status, { error: { message, type, code, param: null } });
}
