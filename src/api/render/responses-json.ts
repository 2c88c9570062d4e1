import type { ItemRow, MessageRow } from '../../db/messages';
import type { RunRow, RunStatus } from '../../db/runs';
import { protocolId } from '../protocol-ids';

/** Token counts as the run's `usage` event and row hold them. */
export interface TurnTokens {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

/** What a response object is built from: the run, and its answer so far or in full. */
export interface ResponseState {
  run: RunRow;
  status: RunStatus;
  /** The answer's text; undefined while (or when) there is none. */
  text: string | undefined;
  /** Why a kept answer is incomplete (`max_tokens`, `cancelled`, ...). */
  incompleteReason: string | null;
  usage: TurnTokens | undefined;
  error: { code: string; message: string } | null;
}

/** OpenAI's status of a response whose run is in `status`. */
function responseStatus(status: RunStatus, incompleteReason: string | null): string {
  switch (status) {
    case 'queued':
      return 'queued';
    case 'running':
      return 'in_progress';
    case 'succeeded':
      return incompleteReason === 'max_tokens' ? 'incomplete' : 'completed';
    case 'interrupted':
      return 'incomplete';
    default:
      return status; // failed, cancelled
  }
}

/** The id of the message item a response outputs: derived from the run, so a stream knows it up front. */
export function outputItemId(runId: string): string {
  return protocolId('item', runId);
}

/** An assistant message item (the response's output, or a conversation item). */
export function outputMessageItem(id: string, text: string, status: string) {
  return {
    id,
    type: 'message' as const,
    status,
    role: 'assistant' as const,
    content: [{ type: 'output_text' as const, text, annotations: [], logprobs: [] }],
  };
}

/**
 * A run as an OpenAI `Response` object: what `GET /v1/responses/{id}` answers
 * and what the stream's final event carries, built the same way for both.
 */
export function responseJson(state: ResponseState) {
  const { run } = state;
  const echo = run.input.responses;
  const status = responseStatus(state.status, state.incompleteReason);
  const itemStatus =
    status === 'completed' ? 'completed' : status === 'in_progress' ? 'in_progress' : 'incomplete';
  const incomplete =
    status !== 'incomplete'
      ? null
      : { reason: state.status === 'interrupted' ? 'interrupted' : 'max_output_tokens' };
  const tokens = state.usage;
  return {
    id: protocolId('response', run.id),
    object: 'response' as const,
    created_at: Math.floor(run.created_at.getTime() / 1000),
    status,
    background: echo?.background ?? false,
    conversation: echo?.conversation ? { id: protocolId('conversation', echo.conversation) } : null,
    error:
      state.status === 'failed'
        ? (state.error ?? { code: 'server_error', message: 'the turn failed' })
        : null,
    incomplete_details: incomplete,
    instructions: echo?.instructions ?? null,
    max_output_tokens: run.input.max_tokens ?? null,
    metadata: echo?.metadata ?? {},
    model: run.model ?? '',
    output:
      state.text === undefined
        ? []
        : [outputMessageItem(outputItemId(run.id), state.text, itemStatus)],
    parallel_tool_calls: false,
    previous_response_id: echo?.previous_response_id ?? null,
    store: echo?.store ?? true,
    temperature: run.input.temperature ?? null,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    truncation: 'disabled',
    usage: tokens
      ? {
          input_tokens: tokens.prompt_tokens ?? 0,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: tokens.completion_tokens ?? 0,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: tokens.total_tokens ?? 0,
        }
      : null,
    user: run.user_id ?? undefined,
  };
}

/** The stored state of a response: its run row and the answer message, if any. */
export function storedResponseJson(run: RunRow, answer: MessageRow | undefined) {
  const finished = run.finished_at !== null;
  return responseJson({
    run,
    status: run.status,
    text: answer?.content,
    incompleteReason: answer?.incomplete_reason ?? null,
    usage: finished ? run.usage : undefined,
    error: run.error,
  });
}

/** A stored message as a Responses / Conversations item. */
export function itemJson(m: ItemRow) {
  const id = m.answer_of ? outputItemId(m.answer_of) : protocolId('item', m.id);
  const status = m.status === 'completed' ? 'completed' : 'incomplete';
  if (m.role === 'assistant') return outputMessageItem(id, m.content, status);
  if (m.role === 'tool') {
    return {
      id,
      type: 'function_call_output' as const,
      call_id: m.tool_call_id ?? '',
      output: m.content,
      status,
    };
  }
  return {
    id,
    type: 'message' as const,
    status,
    role: m.role,
    content: [{ type: 'input_text' as const, text: m.content }],
  };
}

/** A list page in the Responses shape (`first_id`, `last_id`, `has_more`). */
export function itemPage<T extends { id: string }>(data: T[], hasMore: boolean) {
  return {
    object: 'list' as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: hasMore,
  };
}
