import type pg from 'pg';
import { RUN_EVENTS_CHANNEL, type NewRunEvent, type RunEvent } from './types';
import { storableJson } from './storable-json';

/** Postgres caps a NOTIFY payload at 8000 bytes; the run id and seq need the rest. */
const NOTIFY_EVENTS_MAX_BYTES = 7800;

export interface AppendOptions {
  step?: number;
  attempt?: number;
}

/**
 * Append a batch of events to a run's log, with one NOTIFY, in one statement.
 * In autocommit on a pool, or inside the caller's transaction (the events
 * commit with its other writes, and the NOTIFY is delivered at its commit).
 *
 * Sequence numbers come from `runs.last_seq`, bumped under the run's row lock, so
 * concurrent writers for one run commit in sequence order: a reader that sees
 * seq N has already been able to see every seq below N. No gaps, no reuse.
 * One statement, not four: a streaming step appends a batch every few tokens,
 * and each round trip costs both sides CPU.
 * @returns the last sequence number written.
 * @throws SupersededAttemptError when a newer attempt of the step holds its
 *   fence, or the turn was asked to stop (`runs.stop_requested`)
 */
export async function appendRunEvents(
  db: Pick<pg.Pool, 'query'>,
  runId: string,
  events: NewRunEvent[],
  options: AppendOptions = {},
): Promise<number> {
  if (events.length === 0) throw new Error('appendRunEvents needs at least one event');
  const fenced = options.step !== undefined && options.attempt !== undefined;
  // The notification carries the rows as stored (jsonb), like notificationPayload's.
  const res = await db.query<{ last_seq: number }>(
    `with counter as (
       update runs set last_seq = last_seq + $2 where id = $1
         and ($7::boolean is false
              or (fence_step = $5 and fence_attempt = $6 and stop_requested is null))
       returning last_seq
     ), inserted as (
       insert into run_events (run_id, seq, type, data, step, attempt)
       select $1::uuid, c.last_seq - $2 + e.n, e.t, e.d, $5::int, $6::int
       from counter c, unnest($3::text[], $4::jsonb[]) with ordinality as e(t, d, n)
       returning seq, type, data
     ), batch as (
       select json_agg(json_build_array(seq, type, data) order by seq)::text as body from inserted
     )
     select c.last_seq, pg_notify($8, $1::text || ':' || c.last_seq ||
              case when octet_length(b.body) <= $9 then ':' || b.body else '' end)
     from counter c, batch b`,
    [
      runId,
      events.length,
      events.map((e) => e.type),
      events.map((e) => storableJson(e.data)),
      options.step ?? null,
      options.attempt ?? null,
      fenced,
      RUN_EVENTS_CHANNEL,
      NOTIFY_EVENTS_MAX_BYTES,
    ],
  );
  if (res.rowCount !== 1) {
    throw fenced
      ? new SupersededAttemptError(runId, options.step!, options.attempt!)
      : new Error(`run ${runId} does not exist`);
  }
  return res.rows[0].last_seq;
}

/**
 * `<run_id>:<last_seq>`, followed by `:<events as JSON>` when the batch fits
 * the NOTIFY payload limit: listeners can then relay it without reading it
 * back. The events are the rows as stored (jsonb), so a relayed event is the
 * same as a replayed one.
 */
export function notificationPayload(
  runId: string,
  lastSeq: number,
  rows: Pick<RunEvent, 'seq' | 'type' | 'data'>[],
): string {
  const head = `${runId}:${lastSeq}`;
  const ordered = [...rows].sort((a, b) => Number(a.seq) - Number(b.seq));
  const body = JSON.stringify(ordered.map((r) => [Number(r.seq), r.type, r.data]));
  return Buffer.byteLength(body) <= NOTIFY_EVENTS_MAX_BYTES ? `${head}:${body}` : head;
}

/**
 * Parse a {@link notificationPayload}. `events()` decodes the batch (undefined
 * when it did not fit): only listeners with readers of the run pay for it.
 */
export function parseNotification(
  payload: string,
): { runId: string; lastSeq: number; events: () => RunEvent[] | undefined } | undefined {
  const first = payload.indexOf(':');
  if (first < 0) return undefined;
  const second = payload.indexOf(':', first + 1);
  const runId = payload.slice(0, first);
  const lastSeq = Number(payload.slice(first + 1, second < 0 ? undefined : second));
  const events = () => {
    if (second < 0) return undefined;
    const rows = JSON.parse(payload.slice(second + 1)) as [
      number,
      RunEvent['type'],
      RunEvent['data'],
    ][];
    return rows.map(([seq, type, data]) => ({ seq, type, data }));
  };
  return { runId, lastSeq, events };
}

/** Events of a run after `afterSeq`, in order (at most `limit`). */
export async function readRunEvents(
  db: Pick<pg.Pool, 'query'>,
  runId: string,
  afterSeq: number,
  limit = 1000,
): Promise<RunEvent[]> {
  const res = await db.query<RunEvent>(
    `select seq, type, data, created_at from run_events
     where run_id = $1 and seq > $2 order by seq limit $3`,
    [runId, afterSeq, limit],
  );
  return res.rows;
}

/** The seq of the run's `done` event (its log's last word), or undefined while the run goes on. */
export async function readDoneSeq(
  db: Pick<pg.Pool, 'query'>,
  runId: string,
): Promise<number | undefined> {
  const res = await db.query<{ seq: string }>(
    `select seq from run_events where run_id = $1 and type = 'done' order by seq limit 1`,
    [runId],
  );
  return res.rows.length > 0 ? Number(res.rows[0].seq) : undefined;
}

/** A newer attempt of this step holds the fence: this (stale) attempt must stop writing. */
export class SupersededAttemptError extends Error {
  override name = 'SupersededAttemptError';
  constructor(runId: string, step: number, attempt: number) {
    super(`attempt ${attempt} of step ${step} of run ${runId} was superseded by a newer attempt`);
  }
}

/**
 * Claim a model step for a new attempt; the latest claim wins. Attempt numbers
 * come from the run row, not from Temporal: a step run as a local activity
 * starts again at attempt 1 on the worker that takes over from a dead one.
 * @returns the attempt's number (1 for the step's first), or undefined when a
 *   later step already holds the fence (this execution is stale).
 */
export async function claimStepFence(
  db: Pick<pg.Pool, 'query'>,
  runId: string,
  step: number,
): Promise<number | undefined> {
  const res = await db.query<{ fence_attempt: number }>(
    `update runs set fence_attempt = case when fence_step = $2 then fence_attempt + 1 else 1 end,
                     fence_step = $2
     where id = $1 and fence_step <= $2
     returning fence_attempt`,
    [runId, step],
  );
  return res.rows[0]?.fence_attempt;
}
