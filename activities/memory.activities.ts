import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import { messagesOfRun } from '../src/db/messages';
import { addRunUsage, finishRun, markRunRunning } from '../src/db/runs';
import { maybeOne, withTransaction } from '../src/db/sql';
import { appendRunEventsInTransaction } from '../src/events/event-log';
import { ModelOutputError } from '../src/providers/complete-json';
import {
  extractFacts,
  rememberFacts,
  type CandidateFact,
  type MemoryResult,
  type MemoryUsage,
  type RememberOutcome,
} from '../src/memory/remember';
import { ProviderError } from '../src/providers/provider-error';
import type { ActivityDeps } from './deps';
import { loadRun } from './load-run';

/** What `POST /v1/memories` stores on its run (claim check): the workflow carries only the run id. */
export interface MemoryRunInput {
  messages?: { role: 'user' | 'assistant' | 'system'; content: string }[];
  text?: string;
  /** Extract facts with the model (default for `messages`); `false` stores `text` as one fact. */
  infer?: boolean;
  metadata?: Record<string, unknown>;
}

export interface ExtractMemoriesResult {
  status: 'succeeded' | 'skipped';
  /** Why nothing was done: `no_user`, `disabled`, `no_messages`. */
  skipped?: string;
  results: MemoryResult[];
  usage: MemoryUsage;
  /** Set when the model answered something unusable: the run succeeds with no facts. */
  warning?: string;
}

/** Results kept in workflow history and on the run: enough for any conversation. */
const MAX_RESULTS = 50;

/** Long-term memory: extract facts from a turn (or an API request) and consolidate them. */
export function createMemoryActivities(deps: ActivityDeps) {
  const { pool, config, log } = deps;
  const memoryDeps = { pool, config, embedder: deps.embedder, models: deps.models, log };
  const none = (skipped: string): ExtractMemoriesResult => ({
    status: 'skipped',
    skipped,
    results: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, model_calls: 0 },
  });

  return {
    /**
     * Extract and consolidate the memories of a run: a finished turn (its user
     * and assistant messages) or a `memory` run from the API. Idempotent: the
     * outcome commits with the writes, and a retry returns it.
     */
    async extractMemories({ runId }: { runId: string }): Promise<ExtractMemoriesResult> {
      const done = await maybeOne<{ result: ExtractMemoriesResult }>(
        pool,
        'select result from memory_extractions where run_id = $1',
        [runId],
      );
      if (done) return done.result;
      const run = await loadRun(pool, runId);
      if (!run.user_id) return none('no_user');
      if (run.kind === 'turn' && !config.memory.extraction) return none('disabled');
      if (run.kind === 'memory') await markRunRunning(pool, runId);
      const userId = run.user_id;

      let facts: CandidateFact[];
      let messageIds: string[] = [];
      let usage: MemoryUsage = { prompt_tokens: 0, completion_tokens: 0, model_calls: 0 };
      let warning: string | undefined;
      const input = run.kind === 'memory' ? (run.input as unknown as MemoryRunInput) : undefined;
      try {
        if (input?.text !== undefined && input.infer !== true) {
          facts = [{ text: input.text }];
        } else {
          let messages: { role: string; content: string }[];
          if (input) {
            messages = input.messages ?? [{ role: 'user', content: input.text ?? '' }];
          } else {
            const rows = (await messagesOfRun(pool, runId)).filter(
              (m) =>
                (m.role === 'user' || m.role === 'assistant') &&
                m.status === 'completed' &&
                m.content,
            );
            messageIds = rows.map((m) => m.id);
            messages = rows;
          }
          if (messages.length === 0) {
            if (input)
              await withTransaction(pool, (tx) => finishMemoryRun(tx, runId, none('no_messages')));
            return none('no_messages');
          }
          const extracted = await extractFacts(
            memoryDeps,
            { messages, model: run.model },
            Context.current().cancellationSignal,
          );
          facts = extracted.facts;
          usage = extracted.usage;
        }
      } catch (err) {
        if (!(err instanceof ModelOutputError)) throw asFailure(err);
        // A model that cannot produce the JSON will not on a retry either.
        warning = err.message;
        facts = [];
      }

      let outcome: RememberOutcome;
      try {
        outcome = await rememberFacts(
          memoryDeps,
          {
            tenantId: run.tenant_id,
            userId,
            facts,
            source: run.kind === 'memory' ? 'api' : 'extraction',
            runId,
            messageIds,
            model: run.model,
            finalize: async (tx, partial) => {
              const result = summary(partial, usage, warning);
              await tx.query(
                `insert into memory_extractions (run_id, tenant_id, user_id, result) values ($1, $2, $3, $4)
                 on conflict (run_id) do nothing`,
                [runId, run.tenant_id, userId, JSON.stringify(result)],
              );
              if (run.kind === 'memory') await finishMemoryRun(tx, runId, result);
            },
          },
          Context.current().cancellationSignal,
        );
      } catch (err) {
        if (!(err instanceof ModelOutputError)) throw asFailure(err);
        // The decision call answered nonsense: nothing is written, the run still ends.
        warning = err.message;
        outcome = {
          results: [],
          usage: { prompt_tokens: 0, completion_tokens: 0, model_calls: 0 },
        };
        const result = summary(outcome, usage, warning);
        await withTransaction(pool, async (tx) => {
          await tx.query(
            `insert into memory_extractions (run_id, tenant_id, user_id, result) values ($1, $2, $3, $4)
             on conflict (run_id) do nothing`,
            [runId, run.tenant_id, userId, JSON.stringify(result)],
          );
          if (run.kind === 'memory') await finishMemoryRun(tx, runId, result);
        });
      }
      const result = summary(outcome, usage, warning);
      if (result.usage.model_calls > 0)
        log.debug({ runId, usage: result.usage }, 'memories extracted');
      if (run.kind === 'memory' && result.usage.model_calls > 0) {
        await addRunUsage(pool, runId, {
          prompt_tokens: result.usage.prompt_tokens,
          completion_tokens: result.usage.completion_tokens,
        }).catch(() => undefined);
      }
      return result;
    },

    /** A `memory` run that could not finish: recorded as failed with an `error` and `done`. */
    async failMemoryRun(input: {
      runId: string;
      error: { code: string; message: string };
    }): Promise<void> {
      await withTransaction(pool, async (tx) => {
        const run = await finishRun(tx, input.runId, { status: 'failed', error: input.error });
        if (!run || run.kind !== 'memory') return;
        await appendRunEventsInTransaction(tx, run.id, [
          { type: 'error', data: input.error },
          { type: 'done', data: { reason: 'failed', message_id: null } },
        ]);
      });
    },
  };
}

function summary(
  outcome: RememberOutcome,
  extraction: MemoryUsage,
  warning?: string,
): ExtractMemoriesResult {
  const usage = {
    prompt_tokens: extraction.prompt_tokens + outcome.usage.prompt_tokens,
    completion_tokens: extraction.completion_tokens + outcome.usage.completion_tokens,
    model_calls: extraction.model_calls + outcome.usage.model_calls,
  };
  return {
    status: 'succeeded',
    results: outcome.results.slice(0, MAX_RESULTS),
    usage,
    ...(warning ? { warning } : {}),
  };
}

async function finishMemoryRun(
  tx: PoolClient,
  runId: string,
  result: ExtractMemoriesResult,
): Promise<void> {
  const run = await finishRun(tx, runId, { status: 'succeeded' });
  if (!run) return;
  await appendRunEventsInTransaction(tx, runId, [
    { type: 'metadata', data: { memories: result.results } },
    { type: 'done', data: { reason: 'stop', message_id: null } },
  ]);
}

/** Provider failures keep their retryability; anything else is transient (a retry is safe). */
function asFailure(err: unknown): unknown {
  if (err instanceof ProviderError && !err.retryable) {
    return ApplicationFailure.nonRetryable(err.message, 'ProviderError', { status: err.status });
  }
  return err;
}
