import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Config } from '../config';
import { InvalidRequestError } from '../errors';
import { dreamAllWorkflowId, type dreamAllWorkflow } from '../../workflows/dreaming.workflow';
import { RUN_KIND, TENANT_ID } from '../../workflows/search-attributes';

/**
 * A tenant's dreaming schedule: one Temporal Schedule per tenant that starts
 * `dreamAllWorkflow` every interval (or on a cron), skipping a firing while
 * the previous run still goes (overlap SKIP), and catching up firings missed
 * during an outage within the catch-up window.
 */

export interface DreamScheduleChange {
  /** A duration: `30s`, `15m`, `1h`, `1d`. */
  interval?: string;
  /** A cron expression (`0 3 * * *`). */
  cron?: string;
  paused?: boolean;
  /** A duration (≥ 10 s). */
  catchup_window?: string;
}

export interface DreamScheduleJson {
  id: string;
  object: 'dreaming.schedule';
  interval: string | null;
  cron: string | null;
  paused: boolean;
  overlap: 'skip';
  catchup_window: string;
  next_run_times: string[];
  recent_runs: { scheduled_at: string; started_at: string; workflow_id: string }[];
  actions_taken: number;
  actions_skipped_overlap: number;
  created_at: string;
  updated_at: string | null;
}

export function dreamScheduleId(tenantId: string): string {
  return `dream-schedule:${tenantId}`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `30s`, `15m`, `1h`, `1d` (or a bare number of seconds). */
export function parseDuration(value: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match)
    throw new InvalidRequestError(`${what} must be a duration like "30s", "15m", "1h" or "1d"`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']);
}

/** The shortest exact form of a duration: 3_600_000 → `1h`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNITS[unit] && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

// The cron text is kept in the schedule's note: Temporal describes cron
// schedules as calendars, and a schedule's memo cannot be updated.
const NOTE_PREFIX = 'reverie dreaming';
const noteOf = (cron: string | null) => (cron ? `${NOTE_PREFIX}; cron=${cron}` : NOTE_PREFIX);
const cronOf = (note: string | undefined) => /cron=(.+)$/.exec(note ?? '')?.[1] ?? null;

/** The tenant's schedule, or undefined when it has none. */
export async function getDreamSchedule(
  client: Client,
  tenantId: string,
): Promise<DreamScheduleJson | undefined> {
  try {
    return scheduleJson(await client.schedule.getHandle(dreamScheduleId(tenantId)).describe());
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Create the tenant's schedule, or change what is given of it.
 * @throws InvalidRequestError for a schedule without interval or cron, or with both
 */
export async function putDreamSchedule(
  client: Client,
  config: Config,
  tenantId: string,
  change: DreamScheduleChange,
): Promise<DreamScheduleJson> {
  if (change.interval !== undefined && change.cron !== undefined) {
    throw new InvalidRequestError('give either interval or cron, not both');
  }
  const interval =
    change.interval !== undefined ? parseDuration(change.interval, 'interval') : undefined;
  if (interval !== undefined && interval < 1000)
    throw new InvalidRequestError('interval must be at least 1s');
  const cron = change.cron?.trim();
  if (cron !== undefined && !/^(\S+\s+){4,6}\S+$/.test(cron) && !cron.startsWith('@')) {
    throw new InvalidRequestError('cron must be a cron expression like "0 3 * * *"');
  }
  const catchup = parseDuration(
    change.catchup_window ?? config.dreaming.catchupWindow,
    'catchup_window',
  );
  if (catchup < 10_000) throw new InvalidRequestError('catchup_window must be at least 10s');

  const handle = client.schedule.getHandle(dreamScheduleId(tenantId));
  const current = await getDreamSchedule(client, tenantId);
  const action: ScheduleOptionsStartWorkflowAction<typeof dreamAllWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'dreamAllWorkflow',
    workflowId: dreamAllWorkflowId(tenantId),
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        tenantId,
        concurrency: config.dreaming.userConcurrency,
        pageConcurrency: config.dreaming.pageConcurrency,
      },
    ],
    typedSearchAttributes: [
      { key: TENANT_ID, value: tenantId },
      { key: RUN_KIND, value: 'dream' },
    ],
  };
  const policies = {
    overlap: ScheduleOverlapPolicy.SKIP,
    catchupWindow: catchup,
    pauseOnFailure: false,
  };

  if (!current) {
    if (interval === undefined && !cron)
      throw new InvalidRequestError('a new schedule needs an interval or a cron');
    await client.schedule.create({
      scheduleId: dreamScheduleId(tenantId),
      spec: specOf(interval, cron),
      action,
      policies,
      state: { paused: change.paused ?? false, note: noteOf(cron ?? null) },
    });
  } else {
    const keepCron = interval === undefined ? (cron ?? current.cron) : null;
    const spec = interval !== undefined || cron ? specOf(interval, cron) : undefined;
    await handle.update((previous) => ({
      spec: spec ?? previous.spec,
      action,
      policies: {
        ...policies,
        catchupWindow:
          change.catchup_window !== undefined ? catchup : previous.policies.catchupWindow,
      },
      state: { paused: change.paused ?? previous.state.paused, note: noteOf(keepCron) },
    }));
  }
  return (await getDreamSchedule(client, tenantId))!;
}

function specOf(interval: number | undefined, cron: string | undefined): ScheduleSpec {
  return interval !== undefined
    ? { intervals: [{ every: interval }] }
    : { cronExpressions: [cron!] };
}

function scheduleJson(d: ScheduleDescription): DreamScheduleJson {
  const every = d.spec.intervals?.[0]?.every;
  const cron = cronOf(d.state.note);
  return {
    id: d.scheduleId,
    object: 'dreaming.schedule',
    interval: every !== undefined && !cron ? formatDuration(Number(every)) : null,
    cron,
    paused: d.state.paused,
    overlap: 'skip',
    catchup_window: formatDuration(d.policies.catchupWindow),
    next_run_times: d.info.nextActionTimes.map((t) => t.toISOString()),
    recent_runs: d.info.recentActions.map((a) => ({
      scheduled_at: a.scheduledAt.toISOString(),
      started_at: a.takenAt.toISOString(),
      workflow_id: a.action.workflow.workflowId,
    })),
    actions_taken: d.info.numActionsTaken,
    actions_skipped_overlap: d.info.numActionsSkippedOverlap,
    created_at: d.info.createdAt.toISOString(),
    updated_at: d.info.lastUpdatedAt?.toISOString() ?? null,
  };
}
