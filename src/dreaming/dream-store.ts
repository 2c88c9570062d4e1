import type { Queryable } from '../db/pool';
import { many, maybeOne, one } from '../db/sql';
import type { RunRow } from '../db/runs';

/**
 * SQL of dreaming: the runs' inputs, plans and step results, the change log
 * (provenance) and the watermark. Every function filters by tenant (and user
 * where it applies).
 */

/** What a dreaming run works on, stored with the run (claim check). */
export interface DreamRunInput {
  /** Null for the fan-out run of a whole tenant. */
  user_id: string | null;
  window_end: string;
  dry_run: boolean;
  token_budget: number;
  /** The watermark the run started from (set when the run is planned). */
  watermark_from?: string | null;
  /** The fan-out run that started this one, if any. */
  parent_run_id?: string | null;
  /** The plan, once made: a retried start finds it. */
  planned?: { pages: number; messages: number; files: number; skip: boolean };
}

export type DreamRunRow = Omit<RunRow, 'input'> & { input: DreamRunInput };

export type ChangeKind = 'memory' | 'moment' | 'profile' | 'affinity';
export type ChangeAction = 'add' | 'update' | 'invalidate' | 'set';

export interface NewChange {
  changeKey: string;
  kind: ChangeKind;
  action: ChangeAction;
  targetId: string;
  field?: string | null;
  before?: unknown;
  after?: unknown;
  sourceMessageIds?: string[];
  model?: string | null;
  promptVersion?: string | null;
}

export interface ChangeRow {
  id: string;
  seq: number;
  tenant_id: string;
  user_id: string;
  run_id: string;
  change_key: string;
  kind: ChangeKind;
  action: ChangeAction;
  target_id: string;
  field: string | null;
  before: unknown;
  after: unknown;
  source_message_ids: string[];
  model: string | null;
  prompt_version: string | null;
  applied: boolean;
  reverted_at: Date | null;
  created_at: Date;
}

/** Record changes once per run and key (a retried step records nothing new). */
export async function recordChanges(
  db: Queryable,
  run: { id: string; tenantId: string; userId: string; applied: boolean },
  changes: NewChange[],
): Promise<void> {
  if (changes.length === 0) return;
  await db.query(
    `insert into dreaming_changes (id, tenant_id, user_id, run_id, change_key, kind, action, target_id, field,
                                   before, after, source_message_ids, model, prompt_version, applied)
     select gen_random_uuid(), $1, $2, $3, c.key, c.kind, c.action, c.target, c.field, c.before, c.after,
            coalesce((select array_agg(x::uuid) from jsonb_array_elements_text(c.sources) x), '{}'),
            c.model, c.prompt_version, $4
     from unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[],
                 $12::jsonb[], $13::text[], $14::text[])
          as c(key, kind, action, target, field, before, after, sources, model, prompt_version)
     on conflict (run_id, change_key) do nothing`,
    [
      run.tenantId,
      run.userId,
      run.id,
      run.applied,
      changes.map((c) => c.changeKey),
      changes.map((c) => c.kind),
      changes.map((c) => c.action),
      changes.map((c) => c.targetId),
      changes.map((c) => c.field ?? null),
      changes.map((c) => (c.before === undefined ? null : JSON.stringify(c.before))),
      changes.map((c) => (c.after === undefined ? null : JSON.stringify(c.after))),
      changes.map((c) => JSON.stringify(c.sourceMessageIds ?? [])),
      changes.map((c) => c.model ?? null),
      changes.map((c) => c.promptVersion ?? null),
    ],
  );
}

/** A run's changes in the order they were made. */
export function listChanges(
  db: Queryable,
  tenantId: string,
  runId: string,
  page: { limit: number; afterSeq?: number },
): Promise<ChangeRow[]> {
  return many<ChangeRow>(
    db,
    `select * from dreaming_changes where tenant_id = $1 and run_id = $2 and seq > $3 order by seq limit $4`,
    [tenantId, runId, page.afterSeq ?? 0, page.limit],
  );
}

export interface StepRow {
  run_id: string;
  page: number;
  episodes: { session_id: string; message_ids: string[] }[];
  message_count: number;
  result: Record<string, unknown> | null;
}

/** Step numbers of the stages after the pages (pages are 0…n-1). */
export const STEP = { facts: -1, profile: -2, affinity: -3 } as const;

export function getStep(db: Queryable, runId: string, page: number): Promise<StepRow | undefined> {
  return maybeOne<StepRow>(db, 'select * from dream_pages where run_id = $1 and page = $2', [
    runId,
    page,
  ]);
}

/** Store a stage's result once; a retry that finds it keeps the first. */
export async function saveStepResult(
  db: Queryable,
  runId: string,
  page: number,
  result: object,
): Promise<void> {
  await db.query(
    `insert into dream_pages (run_id, page, episodes, message_count, result) values ($1, $2, '[]', 0, $3)
     on conflict (run_id, page) do update set result = coalesce(dream_pages.result, excluded.result)`,
    [runId, page, JSON.stringify(result)],
  );
}

/**
 * Lock step `page`'s row until the transaction ends, serialising a stage with
 * a retry of itself that raced it.
 * @returns false when a result is already stored (the other attempt won: write nothing)
 */
export async function lockUnsavedStep(
  tx: Queryable,
  runId: string,
  page: number,
): Promise<boolean> {
  const current = await maybeOne<{ result: unknown }>(
    tx,
    'select result from dream_pages where run_id = $1 and page = $2 for update',
    [runId, page],
  );
  return !current?.result;
}

/** Results of every page of a run, in page order. */
export function pageResults(db: Queryable, runId: string): Promise<StepRow[]> {
  return many<StepRow>(
    db,
    'select * from dream_pages where run_id = $1 and page >= 0 order by page',
    [runId],
  );
}

export interface DreamingState {
  watermark: Date | null;
  last_run_id: string | null;
}

export async function getDreamingState(
  db: Queryable,
  tenantId: string,
  userId: string,
): Promise<DreamingState> {
  return (
    (await maybeOne<DreamingState>(
      db,
      'select watermark, last_run_id from dreaming_state where tenant_id = $1 and user_id = $2',
      [tenantId, userId],
    )) ?? { watermark: null, last_run_id: null }
  );
}

/** Move the watermark forward (never back) to the end of a finished window. */
export async function advanceWatermark(
  db: Queryable,
  tenantId: string,
  userId: string,
  windowEnd: string,
  runId: string,
): Promise<void> {
  await db.query(
    `insert into dreaming_state (tenant_id, user_id, watermark, last_run_id) values ($1, $2, $3, $4)
     on conflict (tenant_id, user_id) do update
       set watermark = greatest(dreaming_state.watermark, excluded.watermark),
           last_run_id = excluded.last_run_id, updated_at = now()`,
    [tenantId, userId, windowEnd, runId],
  );
}

/** The run of a dreaming workflow, if it was created already. */
export function findDreamRunByWorkflow(
  db: Queryable,
  workflowId: string,
): Promise<DreamRunRow | undefined> {
  return maybeOne<DreamRunRow>(db, `select * from runs where workflow_id = $1 and kind = 'dream'`, [
    workflowId,
  ]);
}

/** Create the run of a dreaming workflow once (schedules start workflows, not runs). */
export async function ensureDreamRun(
  db: Queryable,
  run: { id: string; tenantId: string; workflowId: string; input: DreamRunInput; model: string },
): Promise<DreamRunRow> {
  const inserted = await maybeOne<DreamRunRow>(
    db,
    `insert into runs (id, tenant_id, kind, user_id, model, input, workflow_id)
     values ($1, $2, 'dream', $3, $4, $5, $6)
     on conflict (workflow_id) where kind = 'dream' do nothing returning *`,
    [run.id, run.tenantId, run.input.user_id, run.model, JSON.stringify(run.input), run.workflowId],
  );
  return (
    inserted ??
    one<DreamRunRow>(db, `select * from runs where workflow_id = $1 and kind = 'dream'`, [
      run.workflowId,
    ])
  );
}

/** Users of a tenant with messages or files in (watermark, windowEnd], after `after`, in id order. */
export async function usersWithNewActivity(
  db: Queryable,
  tenantId: string,
  windowEnd: string,
  page: { after: string | null; limit: number },
): Promise<string[]> {
  const rows = await many<{ user_id: string }>(
    db,
    `with users_of_tenant as (
       select distinct user_id from sessions
       where tenant_id = $1 and user_id is not null and ($3::text is null or user_id > $3)
       union
       select distinct user_id from files
       where tenant_id = $1 and user_id is not null and ($3::text is null or user_id > $3)
     )
     select u.user_id from users_of_tenant u
     left join dreaming_state d on d.tenant_id = $1 and d.user_id = u.user_id
     where exists (
         select 1 from sessions s join messages m on m.session_id = s.id
         where s.tenant_id = $1 and s.user_id = u.user_id
           and m.created_at > coalesce(d.watermark, '-infinity') and m.created_at <= $2::timestamptz
           and m.role in ('user', 'assistant'))
        or exists (
         select 1 from files f where f.tenant_id = $1 and f.user_id = u.user_id and f.status = 'ready'
           and f.created_at > coalesce(d.watermark, '-infinity') and f.created_at <= $2::timestamptz)
     order by u.user_id limit $4`,
    [tenantId, windowEnd, page.after, page.limit],
  );
  return rows.map((r) => r.user_id);
}

/** Add model calls' usage to a dreaming run's totals (the token budget reads them). */
export async function addDreamUsage(
  db: Queryable,
  runId: string,
  usage: { prompt_tokens: number; completion_tokens: number },
  calls = 1,
): Promise<void> {
  await db.query(
    `update runs set usage = usage || jsonb_build_object(
        'prompt_tokens', coalesce((usage->>'prompt_tokens')::int, 0) + $2,
        'completion_tokens', coalesce((usage->>'completion_tokens')::int, 0) + $3,
        'total_tokens', coalesce((usage->>'total_tokens')::int, 0) + $2 + $3,
        'model_calls', coalesce((usage->>'model_calls')::int, 0) + $4)
     where id = $1`,
    [runId, usage.prompt_tokens, usage.completion_tokens, calls],
  );
}

/** `{kind: {action: n}}` of a run's changes, for its `done` event. */
export async function changeCounts(
  db: Queryable,
  runId: string,
): Promise<Record<string, Record<string, number>>> {
  const rows = await many<{ kind: string; action: string; n: number }>(
    db,
    'select kind, action, count(*)::int as n from dreaming_changes where run_id = $1 group by kind, action order by kind, action',
    [runId],
  );
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.kind] ??= {})[r.action] = r.n;
  return out;
}
