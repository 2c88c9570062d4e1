import { randomUUID } from 'node:crypto';
import { insertMessage, type MessageRow } from '../db/messages';
import type { Pool } from '../db/pool';
import { addRunUsage, type RunRow } from '../db/runs';
import { maybeOne } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { EventWriter } from '../events/event-writer';
import type { ModelTarget } from '../providers/model-router';
import {
  estimateUsage,
  streamChat,
  type ChatMessage,
  type ChatTool,
} from '../providers/stream-chat';
import { messageKey } from './message-keys';

/**
 * One model step of a turn, without Temporal: find an earlier attempt's
 * answer, announce a retry, stream the answer into the event log and store it.
 * The activity adds the attempt number, the heartbeats and the failure types.
 */

/** What a model step reports to the turn workflow (small: the text stays in Postgres). */
export interface GenerateStepResult {
  messageId: string;
  toolCallCount: number;
  finishReason: string;
  /** The step was the last (no tool calls) and the run is finished: `done` is announced. */
  completed?: boolean;
}

/** The result of a step whose assistant message is `message`. */
export function stepResult(message: MessageRow, finishReason: string): GenerateStepResult {
  return { messageId: message.id, toolCallCount: message.tool_calls?.length ?? 0, finishReason };
}

/** The step's completed assistant message, when an earlier attempt stored it (then it is not run again). */
export function findAnsweredStep(
  pool: Pool,
  runId: string,
  step: number,
): Promise<MessageRow | undefined> {
  return maybeOne<MessageRow>(
    pool,
    `select * from messages where run_id = $1 and idem_key = $2 and status = 'completed'`,
    [runId, messageKey.assistant(runId, step)],
  );
}

/**
 * Tell readers that the previous attempt of this step failed and where its
 * output began, so they drop it. Only the latest earlier attempt that wrote
 * output needs discarding: older ones were discarded by their own `retry`.
 * @param previousFailure why the previous attempt failed, when it said so
 */
export async function announceRetry(
  pool: Pool,
  runId: string,
  step: number,
  attempt: number,
  previousFailure: string | undefined,
): Promise<void> {
  const previous = await maybeOne<{ first_seq: number | null }>(
    pool,
    `select min(seq) as first_seq from run_events
     where run_id = $1 and step = $2 and type <> 'retry'
       and attempt = (select max(attempt) from run_events
                      where run_id = $1 and step = $2 and attempt < $3 and type <> 'retry')`,
    [runId, step, attempt],
  );
  await appendRunEvents(
    pool,
    runId,
    [
      {
        type: 'retry',
        data: {
          attempt,
          reason:
            previousFailure ?? 'the previous attempt was interrupted (worker or connection lost)',
          discard_from_seq: previous?.first_seq ?? null,
        },
      },
    ],
    { step, attempt },
  );
}

/** One attempt of one model step. */
export interface StreamStepInput {
  run: RunRow;
  step: number;
  /** The turn's context, as `buildTurnContext` made it. */
  messages: ChatMessage[];
  tools: ChatTool[] | undefined;
  /** The step attempt's batched writer into the run's event log. */
  writer: EventWriter;
  signal: AbortSignal;
}

/**
 * Stream the step's answer from `chain` into `input.writer` (text, reasoning,
 * extended events, then its tool calls and any failovers), then record usage
 * and store the assistant message (idempotent on its key).
 *
 * On failure, whatever streamed stays in the log (a stop keeps it as the
 * partial answer, a retry tells clients to discard it) and, unless the step
 * was cancelled, the tokens of the failed attempt are still counted; then the
 * original error is rethrown for the caller to classify.
 * @throws ProviderError (or any error of the stream or of the writes)
 */
export async function streamStepAnswer(
  pool: Pool,
  chain: ModelTarget[],
  input: StreamStepInput,
): Promise<GenerateStepResult> {
  const { run, step, messages, writer } = input;
  let streamed = '';
  try {
    const result = await streamChat(
      chain,
      {
        messages,
        tools: input.tools,
        temperature: run.input.temperature,
        max_tokens: run.input.max_tokens,
      },
      {
        onText: (content) => {
          streamed += content;
          writer.push({ type: 'message.delta', data: { content } });
        },
        onReasoning: (content) => writer.push({ type: 'reasoning', data: { content, step } }),
        onExtended: (event) => {
          // The turn names the session (src/turns/session-title.ts) and announces
          // that title itself; a provider's own title would contradict the stored one.
          if (event.type === 'title') return;
          writer.push({ type: event.type, data: event.data });
        },
      },
      input.signal,
    );
    for (const call of result.toolCalls) {
      writer.push({
        type: 'tool_call',
        data: {
          id: call.id,
          tool_name: call.name,
          status: 'pending',
          arguments: parseArguments(call.arguments),
        },
      });
    }
    if (result.failovers.length > 0) {
      writer.push({
        type: 'metadata',
        data: { provider: result.provider, model: result.model, failovers: result.failovers },
      });
    }
    await writer.flush();
    await addRunUsage(pool, run.id, { ...result.usage, ttft_ms: result.ttftMs });
    const message = await insertMessage(pool, {
      id: randomUUID(),
      tenantId: run.tenant_id,
      sessionId: run.session_id!,
      runId: run.id,
      role: 'assistant',
      content: result.text,
      toolCalls:
        result.toolCalls.length > 0
          ? result.toolCalls.map((c) => ({
              id: c.id,
              type: 'function' as const,
              function: { name: c.name, arguments: c.arguments },
            }))
          : null,
      status: result.finishReason === 'length' ? 'incomplete' : 'completed',
      incompleteReason: result.finishReason === 'length' ? 'max_tokens' : null,
      usage: { ...result.usage },
      idemKey: messageKey.assistant(run.id, step),
    });
    return stepResult(message, result.finishReason);
  } catch (err) {
    await writer.flush().catch(() => undefined);
    if (input.signal.aborted) throw err;
    // Tokens of a failed attempt were still spent: count them.
    const wasted = estimateUsage(messages, streamed);
    await addRunUsage(pool, run.id, {
      prompt_tokens: wasted.prompt_tokens,
      completion_tokens: wasted.completion_tokens,
    }).catch(() => undefined);
    throw err;
  }
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
