import { ApplicationFailure, Context } from '@temporalio/activity';
import { readStopRequest, recordStepFailure, type StopReason } from '../src/db/runs';
import { claimStepFence } from '../src/events/event-log';
import { EventWriter } from '../src/events/event-writer';
import { FailureType } from '../src/failure-types';
import { buildTurnContext } from '../src/prompt/turn-context';
import { classifyProviderError } from '../src/providers/provider-error';
import { loadRun } from '../src/runs/load-run';
import {
  announceRetry,
  findAnsweredStep,
  stepResult,
  streamStepAnswer,
  type GenerateStepResult,
} from '../src/turns/model-step';
import { beginTurnRun, completeTurnRun } from '../src/turns/turn-lifecycle';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';

export type { GenerateStepResult } from '../src/turns/model-step';

/** How often a streaming step heartbeats, independent of token flow. */
const HEARTBEAT_EVERY_MS = 1000;

/** The streaming model call of a turn (domain code: src/turns/model-step.ts). */
export function createModelActivities({
  pool,
  config,
  models,
  tools,
  embedder,
  log,
  turnStarter,
}: ActivityDeps) {
  return mapFailures({
    /**
     * One model step: stream from the provider chain into the run's event log
     * (batched), heartbeat the last persisted seq, then store the assistant
     * message. A retry first announces `retry` so clients discard the failed
     * attempt's text; a step whose message exists is not run again.
     * @throws ApplicationFailure `SupersededAttempt`, `ProviderError` (non-retryable),
     * `ProviderUnavailable` (retryable)
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
      // Independent reads and the fence claim together: one round trip, not three.
      const [run, done, attempt] = await Promise.all([
        loadRun(pool, runId),
        findAnsweredStep(pool, runId, step),
        claimStepFence(pool, runId, step),
      ]);
      // Beginning here, not in an activity of its own, spares the first token a
      // workflow-task round trip. It is idempotent, so a retry may repeat it.
      if (input.begin) await beginTurnRun(pool, run);
      // Finishing here, not in an activity of its own, spares a workflow task after the answer.
      const finish = (answered: GenerateStepResult) =>
        input.complete ? completeIfLast(pool, turnStarter, runId, answered) : answered;
      if (done) {
        const finishReason = done.tool_calls?.length ? 'tool_calls' : 'stop';
        return finish(stepResult(done, finishReason));
      }
      if (run.stop_requested) throw turnStopped(run.stop_requested);
      if (attempt === undefined) {
        throw ApplicationFailure.nonRetryable(
          'a later step of this turn is running',
          FailureType.SupersededAttempt,
        );
      }
      if (attempt > 1) {
        const details = ctx.info.heartbeatDetails as { failure?: string } | undefined;
        await announceRetry(
          pool,
          runId,
          step,
          attempt,
          details?.failure ?? run.step_failure ?? undefined,
        );
      }
      const model = run.model ?? models.defaultModel;
      const offeredTools = input.allowTools ? tools.definitions() : undefined;
      // The same builder serves GET /v1/sessions/{id}/context: what it shows is what is sent.
      const { messages } = await buildTurnContext(
        { pool, config, embedder, log },
        {
          tenantId: run.tenant_id,
          sessionId: run.session_id!,
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
      // A stop is refused at the next batch (src/events/event-log.ts); while the
      // model is silent, a check each second notices it.
      const stop = new AbortController();
      const beat = setInterval(() => {
        if (!ctx.info.isLocal) ctx.heartbeat({ lastSeq: writer.lastSeq });
        void readStopRequest(pool, runId).then(
          (reason) => reason && stop.abort(turnStopped(reason)),
          () => undefined,
        );
      }, HEARTBEAT_EVERY_MS);
      let answered: GenerateStepResult;
      try {
        answered = await streamStepAnswer(pool, models.chainFor(model), {
          run,
          step,
          messages,
          tools: offeredTools,
          writer,
          signal: AbortSignal.any([ctx.cancellationSignal, stop.signal]),
        });
      } catch (err) {
        throw await stepFailure(ctx, pool, runId, writer, err, model);
      } finally {
        clearInterval(beat);
      }
      // Outside the try: a failed completion is a database error, not the provider's.
      return finish(answered);
    },
  });
}

/** A step without tool calls ends the run: status, usage and `done` (idempotent). */
async function completeIfLast(
  pool: ActivityDeps['pool'],
  turnStarter: ActivityDeps['turnStarter'],
  runId: string,
  answered: GenerateStepResult,
): Promise<GenerateStepResult> {
  if (answered.toolCallCount > 0) return answered;
  const next = await completeTurnRun(pool, {
    runId,
    messageId: answered.messageId,
    finishReason: answered.finishReason,
  });
  // The session's next queued turn, after the commit that handed it over.
  if (next) await turnStarter?.start(next);
  return { ...answered, completed: true };
}

function turnStopped(reason: StopReason): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`the turn was ${reason}`, FailureType.TurnStopped, {
    reason,
  });
}

/**
 * What Temporal must see of a failed step: the cancellation itself when
 * cancelled (the SDK reports an abort as its own error), `TurnStopped` when the
 * turn was asked to stop, else the provider failure with its retryability. The
 * failure is recorded first, so the retry's `retry` event can say why.
 */
async function stepFailure(
  ctx: Context,
  pool: ActivityDeps['pool'],
  runId: string,
  writer: EventWriter,
  err: unknown,
  model: string,
): Promise<unknown> {
  if (ctx.cancellationSignal.aborted) return ctx.cancellationSignal.reason ?? err;
  // Refused writes, an abort by the check, or any failure after a stop: the stop wins.
  const reason = await readStopRequest(pool, runId).catch(() => null);
  if (reason) return turnStopped(reason);
  const failure = classifyProviderError(err, 'provider');
  if (ctx.info.isLocal) await recordStepFailure(pool, runId, failure.message);
  else ctx.heartbeat({ lastSeq: writer.lastSeq, failure: failure.message });
  // A provider's 404 on chat completions means it does not serve the model:
  // the turn fails as `model_not_found`, the code an unserved model gets.
  if (failure.status === 404) {
    return ApplicationFailure.nonRetryable(
      `model "${model}" was not found by the provider: ${failure.message}`,
      FailureType.ModelNotFound,
      { status: failure.status, model },
    );
  }
  if (!failure.retryable) {
    return ApplicationFailure.nonRetryable(failure.message, FailureType.ProviderError, {
      status: failure.status,
    });
  }
  return ApplicationFailure.retryable(failure.message, FailureType.ProviderUnavailable, {
    status: failure.status,
  });
}
