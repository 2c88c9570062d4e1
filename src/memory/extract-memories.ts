import type { PoolClient } from 'pg';
import { messagesOfRun } from '../db/messages';
import { addRunUsage, finishRun, markRunRunning, type RunRow } from '../db/runs';
import { maybeOne, withTransaction } from '../db/sql';
import { appendRunEvents } from '../events/event-log';
import type { Logger } from '../logger';
import { loadRun } from '../runs/load-run';
import { ModelOutputError } from '../providers/complete-json';
import type { MemoryRunInput } from './memory-run-input';
import {
  extractFacts,
  rememberFacts,
  type CandidateFact,
  type MemoryDeps,
  type MemoryResult,
  type MemoryUsage,
  type RememberOutcome,
} from './remember';

/**
 * The memory extraction of a run: a finished turn (its user and assistant
 * messages) or a `memory` run from the API (`POST /v1/memories`). Facts are
 * extracted, then consolidated into the user's memories; the outcome commits
 * with the writes, so a retry returns it instead of extracting again.
 */

/** What an extraction did, kept in workflow history and on the run (results capped). */
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

const NO_USAGE: MemoryUsage = { prompt_tokens: 0, completion_tokens: 0, model_calls: 0 };

const none = (skipped: string): ExtractMemoriesResult => ({
  status: 'skipped',
  skipped,
  results: [],
  usage: { ...NO_USAGE },
});

/** The facts to consolidate, or why there are none to look at. */
type Candidates =
  | { facts: CandidateFact[]; messageIds: string[]; usage: MemoryUsage; warning?: string }
  | { skipped: string };

/**
 * Extract and consolidate the memories of run `runId`. Idempotent.
 * @throws ProviderError when the provider refuses (the caller decides retryability)
 * @throws NonRetryableError `RunGone` when the run no longer exists
 */
export async function extractRunMemories(
  deps: MemoryDeps & { log: Logger },
  runId: string,
  signal: AbortSignal,
): Promise<ExtractMemoriesResult> {
  const { pool, config, log } = deps;
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

  const candidates = await candidateFacts(deps, run, signal);
  if ('skipped' in candidates) return none(candidates.skipped);
  const result = await consolidate(deps, run, candidates, signal);
  if (result.usage.model_calls > 0) log.debug({ runId, usage: result.usage }, 'memories extracted');
  if (run.kind === 'memory' && result.usage.model_calls > 0) {
    await addRunUsage(pool, runId, {
      prompt_tokens: result.usage.prompt_tokens,
      completion_tokens: result.usage.completion_tokens,
    }).catch(() => undefined);
  }
  return result;
}

/**
 * The run's candidate facts: `text` as one fact when the API asks not to
 * infer, else what the model extracts from the messages. An unusable answer
 * yields no facts and a warning; no messages at all end a `memory` run here.
 */
async function candidateFacts(
  deps: MemoryDeps,
  run: RunRow,
  signal: AbortSignal,
): Promise<Candidates> {
  const { pool } = deps;
  const input = run.kind === 'memory' ? (run.input as unknown as MemoryRunInput) : undefined;
  let messageIds: string[] = [];
  try {
    if (input?.text !== undefined && input.infer !== true)
      return { facts: [{ text: input.text }], messageIds, usage: { ...NO_USAGE } };
    let messages: { role: string; content: string }[];
    if (input) {
      messages = input.messages ?? [{ role: 'user', content: input.text ?? '' }];
    } else {
      const rows = (await messagesOfRun(pool, run.id)).filter(
        (m) =>
          (m.role === 'user' || m.role === 'assistant') && m.status === 'completed' && m.content,
      );
      messageIds = rows.map((m) => m.id);
      messages = rows;
    }
    if (messages.length === 0) {
      if (input)
        await withTransaction(pool, (tx) => finishMemoryRun(tx, run.id, none('no_messages')));
      return { skipped: 'no_messages' };
    }
    const extracted = await extractFacts(deps, { messages, model: run.model }, signal);
    return { facts: extracted.facts, messageIds, usage: extracted.usage };
  } catch (err) {
    if (!(err instanceof ModelOutputError)) throw err;
    // A model that cannot produce the JSON will not on a retry either.
    return { facts: [], messageIds, usage: { ...NO_USAGE }, warning: err.message };
  }
}

/** Consolidate the facts; the outcome (and a `memory` run's end) commits with the writes. */
async function consolidate(
  deps: MemoryDeps,
  run: RunRow,
  candidates: Exclude<Candidates, { skipped: string }>,
  signal: AbortSignal,
): Promise<ExtractMemoriesResult> {
  const { usage } = candidates;
  let { warning } = candidates;
  const userId = run.user_id!;
  let outcome: RememberOutcome;
  try {
    outcome = await rememberFacts(
      deps,
      {
        tenantId: run.tenant_id,
        userId,
        facts: candidates.facts,
        source: run.kind === 'memory' ? 'api' : 'extraction',
        runId: run.id,
        messageIds: candidates.messageIds,
        model: run.model,
        finalize: (tx, partial) => recordOutcome(tx, run, summary(partial, usage, warning)),
      },
      signal,
    );
  } catch (err) {
    if (!(err instanceof ModelOutputError)) throw err;
    // The decision call answered nonsense: nothing is written, the run still ends.
    warning = err.message;
    outcome = { results: [], usage: { ...NO_USAGE } };
    const result = summary(outcome, usage, warning);
    await withTransaction(deps.pool, (tx) => recordOutcome(tx, run, result));
  }
  return summary(outcome, usage, warning);
}

/** Store the outcome once (a retry returns it); a `memory` run ends with it. */
async function recordOutcome(
  tx: PoolClient,
  run: RunRow,
  result: ExtractMemoriesResult,
): Promise<void> {
  await tx.query(
    `insert into memory_extractions (run_id, tenant_id, user_id, result) values ($1, $2, $3, $4)
     on conflict (run_id) do nothing`,
    [run.id, run.tenant_id, run.user_id, JSON.stringify(result)],
  );
  if (run.kind === 'memory') await finishMemoryRun(tx, run.id, result);
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
  await appendRunEvents(tx, runId, [
    { type: 'metadata', data: { memories: result.results } },
    { type: 'done', data: { reason: 'stop', message_id: null } },
  ]);
}

/** A `memory` run that could not finish: recorded as failed with an `error` and `done`, once. */
export async function failMemoryRun(
  { pool }: Pick<MemoryDeps, 'pool'>,
  input: { runId: string; error: { code: string; message: string } },
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const run = await finishRun(tx, input.runId, { status: 'failed', error: input.error });
    if (!run || run.kind !== 'memory') return;
    await appendRunEvents(tx, run.id, [
      { type: 'error', data: input.error },
      { type: 'done', data: { reason: 'failed', message_id: null } },
    ]);
  });
}
