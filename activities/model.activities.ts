import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { appendRunEvents, claimStepFence } from '../src/events/event-log';
import { EventWriter } from '../src/events/event-writer';
import { insertMessage, type MessageRow } from '../src/db/messages';
import { addRunUsage } from '../src/db/runs';
import { loadRun } from './load-run';
import { maybeOne } from '../src/db/sql';
import { buildTurnContext } from '../src/prompt/turn-context';
import { classifyProviderError } from '../src/providers/provider-error';
import { estimateUsage, streamChat } from '../src/providers/stream-chat';
import type { ActivityDeps } from './deps';
import { beginTurnRun, completeTurnRun, messageKey } from './turn.activities';

export interface GenerateStepResult {
  messageId: string;
  toolCallCount: number;
  finishReason: string;
  /** The step was the last (no tool calls) and the run is finished: `done` is announced. */
  completed?: boolean;
}

/** How often a streaming step heartbeats, independent of token flow. */
const HEARTBEAT_EVERY_MS = 1000;

/** The streaming model call of a turn. */
export function createModelActivities({
  pool,
  config,
  models,
  tools,
  embedder,
  log,
}: ActivityDeps) {
  return {
    /**
     * One model step: stream from the provider chain into the run's event log
     * (batched), heartbeat the last persisted seq, then store the assistant
     * message. A retry first announces `retry` so clients discard the failed
     * attempt's text; a step whose message exists is not run again.
     */
    async generateStep(input: {
      runId: string;
      step: number;
      allowTools: boolean;
      /** The turn's first step also begins the run (its user messages join the history). */
      begin?: boolean;
      /** A step that ends without tool calls also finishes the run (status, usage, `done`). */
      complete?: boolean;
    }): Promise<GenerateStepResult> {
      const { runId, step } = input;
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      // Beginning here, not in an activity of its own, spares the first token a
      // workflow-task round trip. It is idempotent, so a retry may repeat it.
      if (input.begin) await beginTurnRun(pool, runId);
      // Independent reads and the fence claim together: one round trip, not three.
      const [run, done, claimed] = await Promise.all([
        loadRun(pool, runId),
        maybeOne<MessageRow>(
          pool,
          `select * from messages where run_id = $1 and idem_key = $2 and status = 'completed'`,
          [runId, messageKey.assistant(runId, step)],
        ),
        claimStepFence(pool, runId, step, attempt),
      ]);
      const sessionId = run.session_id!;
      // Finishing here, not in an activity of its own, spares a workflow task after the answer.
      const finish = async (step: GenerateStepResult): Promise<GenerateStepResult> => {
        if (!input.complete || step.toolCallCount > 0) return step;
        await completeTurnRun(pool, {
          runId,
          messageId: step.messageId,
          finishReason: step.finishReason,
        });
        return { ...step, completed: true };
      };
      if (done) {
        const finishReason = done.tool_calls?.length ? 'tool_calls' : 'stop';
        return finish(stepResult(done, finishReason));
      }

      if (!claimed) {
        throw ApplicationFailure.nonRetryable(
          'a newer attempt of this step is running',
          'SupersededAttempt',
        );
      }
      if (attempt > 1) await announceRetry(pool, runId, step, attempt, ctx.info.heartbeatDetails);

      const model = run.model ?? models.defaultModel;
      const offeredTools = input.allowTools ? tools.definitions() : undefined;
      // The same builder serves GET /v1/sessions/{id}/context: what it shows is what is sent.
      const { messages } = await buildTurnContext(
        { pool, config, embedder, log },
        {
          tenantId: run.tenant_id,
          sessionId,
          userId: run.user_id,
          model,
          turnSystem: run.input.system ?? [],
          currentRunId: runId,
          tools: offeredTools,
          maxOutputTokens: run.input.max_tokens,
        },
      );

      const writer = new EventWriter({
        pool,
        runId,
        step,
        attempt,
        maxDelayMs: config.eventBatch.maxDelayMs,
        maxEvents: config.eventBatch.maxEvents,
      });
      const heartbeat = setInterval(
        () => ctx.heartbeat({ lastSeq: writer.lastSeq }),
        HEARTBEAT_EVERY_MS,
      );
      let streamed = '';
      let answered: GenerateStepResult;
      try {
        const result = await streamChat(
          models.chainFor(model),
          {
            messages,
            tools: offeredTools,
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
          ctx.cancellationSignal,
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
        await addRunUsage(pool, runId, { ...result.usage, ttft_ms: result.ttftMs });
        const message = await insertMessage(pool, {
          id: randomUUID(),
          tenantId: run.tenant_id,
          sessionId,
          runId,
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
          idemKey: messageKey.assistant(runId, step),
        });
        answered = stepResult(message, result.finishReason);
      } catch (err) {
        // Whatever streamed so far stays in the log: a stop keeps it as the
        // partial answer, a retry announces that clients must discard it.
        await writer.flush().catch(() => undefined);
        // The SDK reports an abort as its own error; Temporal must see the cancellation.
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? err;
        const failure = classifyProviderError(err, 'provider');
        // Tokens of a failed attempt were still spent: count them.
        const wasted = estimateUsage(messages, streamed);
        await addRunUsage(pool, runId, {
          prompt_tokens: wasted.prompt_tokens,
          completion_tokens: wasted.completion_tokens,
        }).catch(() => undefined);
        ctx.heartbeat({ lastSeq: writer.lastSeq, failure: failure.message });
        // A provider's 404 on chat completions means it does not serve the model:
        // the turn fails as `model_not_found`, the code an unserved model gets.
        if (failure.status === 404) {
          throw ApplicationFailure.nonRetryable(
            `model "${model}" was not found by the provider: ${failure.message}`,
            'ModelNotFound',
            { status: failure.status, model },
          );
        }
        if (!failure.retryable) {
          throw ApplicationFailure.nonRetryable(failure.message, 'ProviderError', {
            status: failure.status,
          });
        }
        throw ApplicationFailure.retryable(failure.message, 'ProviderUnavailable', {
          status: failure.status,
        });
      } finally {
        clearInterval(heartbeat);
      }
      // Outside the try: a failed completion is a database error, not the provider's.
      return finish(answered);
    },
  };
}

function stepResult(message: MessageRow, finishReason: string): GenerateStepResult {
  return { messageId: message.id, toolCallCount: message.tool_calls?.length ?? 0, finishReason };
}

/**
 * Tell readers that the previous attempt of this step failed and where its
 * output began, so they drop it. Only the latest earlier attempt that wrote
 * output needs discarding: older ones were discarded by their own `retry`.
 */
async function announceRetry(
  pool: ActivityDeps['pool'],
  runId: string,
  step: number,
  attempt: number,
  details: unknown,
): Promise<void> {
  const previous = await maybeOne<{ first_seq: number | null }>(
    pool,
    `select min(seq) as first_seq from run_events
     where run_id = $1 and step = $2 and type <> 'retry'
       and attempt = (select max(attempt) from run_events
                      where run_id = $1 and step = $2 and attempt < $3 and type <> 'retry')`,
    [runId, step, attempt],
  );
  const failure = (details as { failure?: string } | undefined)?.failure;
  await appendRunEvents(
    pool,
    runId,
    [
      {
        type: 'retry',
        data: {
          attempt,
          reason: failure ?? 'the previous attempt was interrupted (worker or connection lost)',
          discard_from_seq: previous?.first_seq ?? null,
        },
      },
    ],
    { step, attempt },
  );
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
