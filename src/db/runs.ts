import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

export type RunKind = 'turn' | 'ingest' | 'dream' | 'memory';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
export const FINISHED_STATUSES: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

export interface RunUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  model_calls: number;
  ttft_ms?: number;
  latency_ms?: number;
}

/** What a turn does, stored with the run (claim check): the workflow only carries the id. */
export interface TurnInput {
  /** New user messages that join the history when the turn starts. */
  messages: { role: 'user'; content: string }[];
  /** System messages that apply to this turn only. */
  system: string[];
  temperature?: number;
  max_tokens?: number;
  agent: string;
  /** What a Responses request asked for that the façade reports back; the turn never reads it. */
  responses?: ResponsesEcho;
  /** The same for an Agent Protocol (LangGraph) run. */
  agent_protocol?: AgentProtocolEcho;
}

/** The Agent Protocol run fields a run object echoes. */
export interface AgentProtocolEcho {
  assistant_id: string;
  metadata: Record<string, unknown>;
  multitask_strategy: string;
  /** The stream modes the run was started with (a join streams them by default). */
  stream_mode: string[];
}

/** The Responses request fields a response object echoes (OpenAI `Response`). */
export interface ResponsesEcho {
  instructions: string | null;
  previous_response_id: string | null;
  /** The conversation (session) the client named; null for a response of its own. */
  conversation: string | null;
  background: boolean;
  store: boolean;
  metadata: Record<string, string>;
}

export interface RunRow {
  id: string;
  tenant_id: string;
  kind: RunKind;
  status: RunStatus;
  session_id: string | null;
  user_id: string | null;
  model: string | null;
  input: TurnInput;
  idempotency_key: string | null;
  request_hash: string | null;
  workflow_id: string | null;
  message_id: string | null;
  usage: Partial<RunUsage>;
  error: { code: string; message: string } | null;
  last_seq: number;
  /** A stop asked of the running turn (migration 0010); its step's writes are refused. */
  stop_requested: StopReason | null;
  /** Why the step's latest attempt failed, for the next attempt's `retry` event. */
  step_failure: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Why a running turn is asked to stop. */
export type StopReason = 'cancelled' | 'interrupted';

/**
 * Ask a running (or not yet started) turn to stop: its model step sees it at
 * its next batch or check, and its workflow ends the run. The first reason wins.
 * @returns false when the run is already finished.
 */
export async function requestRunStop(
  db: Queryable,
  runId: string,
  reason: StopReason,
): Promise<boolean> {
  const res = await db.query(
    `update runs set stop_requested = coalesce(stop_requested, $2)
     where id = $1 and status in ('queued', 'running')`,
    [runId, reason],
  );
  return res.rowCount === 1;
}

/** Why the turn is asked to stop, if it is (null when it is not, or the run is gone). */
export async function readStopRequest(db: Queryable, runId: string): Promise<StopReason | null> {
  const res = await db.query<{ stop_requested: StopReason | null }>(
    'select stop_requested from runs where id = $1',
    [runId],
  );
  return res.rows[0]?.stop_requested ?? null;
}

/** Note why the step's attempt failed (read by the next attempt's `retry`). */
export async function recordStepFailure(
  db: Queryable,
  runId: string,
  failure: string,
): Promise<void> {
  await db.query('update runs set step_failure = $2 where id = $1', [runId, failure]);
}

export interface NewRun {
  id: string;
  tenantId: string;
  kind: RunKind;
  sessionId: string | null;
  userId: string | null;
  model: string | null;
  input: unknown;
  idempotencyKey: string | null;
  requestHash: string | null;
  workflowId: string;
}

export async function insertRun(db: Queryable, run: NewRun): Promise<RunRow> {
  return one<RunRow>(
    db,
    `insert into runs (id, tenant_id, kind, session_id, user_id, model, input, idempotency_key,
                       request_hash, workflow_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *`,
    [
      run.id,
      run.tenantId,
      run.kind,
      run.sessionId,
      run.userId,
      run.model,
      JSON.stringify(run.input),
      run.idempotencyKey,
      run.requestHash,
      run.workflowId,
    ],
  );
}

export function getRun(
  db: Queryable,
  tenantId: string,
  runId: string,
): Promise<RunRow | undefined> {
  return maybeOne<RunRow>(db, 'select * from runs where tenant_id = $1 and id = $2', [
    tenantId,
    runId,
  ]);
}

export function findRunByIdempotencyKey(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<RunRow | undefined> {
  return maybeOne<RunRow>(db, 'select * from runs where tenant_id = $1 and idempotency_key = $2', [
    tenantId,
    key,
  ]);
}

/** queued → running; a no-op for a run already past it (activity retries). */
export async function markRunRunning(db: Queryable, runId: string): Promise<void> {
  await db.query(
    `update runs set status = 'running', started_at = coalesce(started_at, now())
     where id = $1 and status = 'queued'`,
    [runId],
  );
}

/**
 * The run turns `running` (in the caller's transaction).
 * @returns true for the first start: nothing is in its event log yet, so this
 * attempt announces `run.started`; a retry finds events and announces nothing.
 */
export async function markRunStarted(tx: Queryable, runId: string): Promise<boolean> {
  // One statement: the update locks the row whether or not it changes it.
  const res = await tx.query<{ fresh: boolean }>(
    `update runs set status = case when status = 'queued' then 'running' else status end,
            started_at = case when status = 'queued' then coalesce(started_at, now())
                              else started_at end
     where id = $1 returning last_seq = 0 as fresh`,
    [runId],
  );
  return res.rows[0]?.fresh === true;
}

/** Record the outcome once; later calls (retries) do not overwrite it. */
export async function finishRun(
  db: Queryable,
  runId: string,
  outcome: {
    status: RunStatus;
    error?: { code: string; message: string } | null;
    messageId?: string | null;
  },
): Promise<RunRow | undefined> {
  return maybeOne<RunRow>(
    db,
    `update runs set status = $2, error = $3, message_id = coalesce($4, message_id),
            finished_at = now(), started_at = coalesce(started_at, now())
     where id = $1 and status in ('queued', 'running') returning *`,
    [
      runId,
      outcome.status,
      outcome.error ? JSON.stringify(outcome.error) : null,
      outcome.messageId ?? null,
    ],
  );
}

/** Add one model call's usage to the run's totals. */
export async function addRunUsage(
  db: Queryable,
  runId: string,
  usage: { prompt_tokens: number; completion_tokens: number; ttft_ms?: number },
): Promise<void> {
  await db.query(
    `update runs set usage = jsonb_build_object(
        'prompt_tokens', coalesce((usage->>'prompt_tokens')::int, 0) + $2,
        'completion_tokens', coalesce((usage->>'completion_tokens')::int, 0) + $3,
        'total_tokens', coalesce((usage->>'total_tokens')::int, 0) + $2 + $3,
        'model_calls', coalesce((usage->>'model_calls')::int, 0) + 1,
        'ttft_ms', coalesce((usage->>'ttft_ms')::int, $4::int))
     where id = $1`,
    [runId, usage.prompt_tokens, usage.completion_tokens, usage.ttft_ms ?? null],
  );
}

export async function deleteRun(db: Queryable, runId: string): Promise<void> {
  await db.query('delete from runs where id = $1', [runId]);
}

export interface RunFilter {
  sessionId?: string;
  kind?: RunKind;
  status?: RunStatus;
  limit: number;
  /** Keyset cursor: runs strictly older than this (created_at, id). */
  before?: { createdAt: string; id: string };
}

/** Newest first; filters combine with AND. */
export function listRuns(db: Queryable, tenantId: string, filter: RunFilter): Promise<RunRow[]> {
  return many<RunRow>(
    db,
    `select * from runs
     where tenant_id = $1
       and ($2::uuid is null or session_id = $2)
       and ($3::text is null or kind = $3)
       and ($4::text is null or status = $4)
       and ($5::timestamptz is null or (created_at, id) < ($5::timestamptz, $6::uuid))
     order by created_at desc, id desc
     limit $7`,
    [
      tenantId,
      filter.sessionId ?? null,
      filter.kind ?? null,
      filter.status ?? null,
      filter.before?.createdAt ?? null,
      filter.before?.id ?? null,
      filter.limit,
    ],
  );
}

/** The running or queued turns of a session, oldest first. */
export function activeRunsOfSession(db: Queryable, sessionId: string): Promise<RunRow[]> {
  return many<RunRow>(
    db,
    `select * from runs where session_id = $1 and status in ('queued', 'running')
     order by created_at`,
    [sessionId],
  );
}
