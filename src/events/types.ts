/** Event types of a run's log (API.md "Runs and events"). */
export const RUN_EVENT_TYPES = [
  'run.started',
  'message.delta',
  'reasoning',
  'progress',
  'tool_call',
  'action_request',
  'metadata',
  'title',
  'usage',
  'retry',
  'error',
  'done',
] as const;

export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/** An event as produced, before it has a sequence number. */
export interface NewRunEvent {
  type: RunEventType;
  data: Record<string, unknown>;
}

/** An event as stored: `seq` is strictly increasing per run and never reused. */
export interface RunEvent extends NewRunEvent {
  seq: number;
  created_at?: string;
}

/** The Postgres channel every event batch is announced on: payload `<run_id>:<last_seq>`. */
export const RUN_EVENTS_CHANNEL = 'run_events';

/** Events read per query by a stream (a full page means more may follow). */
export const READ_PAGE = 1000;
