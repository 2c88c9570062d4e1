import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { ActivityCancellationType } from '@temporalio/workflow';

/**
 * Every timeout and retry policy of the workflows, by name. Activities are
 * idempotent, so retrying them is always safe.
 */

/** A streaming model call. Heartbeats every second; a lost worker is noticed in 5 s. */
export const MODEL_STEP: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5 seconds',
  // Cancellation must wait for the activity to flush its partial output.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
  },
};

/**
 * Workflow task timeout of a turn started directly (protocol 2). Its model
 * step runs inside a task, which the worker keeps alive at 80 % of this; a
 * dead worker's turn resumes elsewhere after it (the 5 s of MODEL_STEP's heartbeat before).
 */
export const TURN_TASK_TIMEOUT = '4 seconds';

/**
 * {@link MODEL_STEP} as a local activity (turn protocol 2): a lost worker is
 * noticed when the workflow task times out (the turn's `workflowTaskTimeout`),
 * and the step runs again on the worker that takes the task over.
 */
export const LOCAL_MODEL_STEP: LocalActivityOptions = {
  startToCloseTimeout: '10 minutes',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: MODEL_STEP.retry,
};

/** Short database writes: retried patiently, a database blip must not fail a turn. */
export const PERSIST: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '200 ms',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    maximumAttempts: 30,
  },
};

/** A tool the model called. */
export const TOOL_CALL: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 3,
  },
};

/** Parse and chunk a file: CPU-bound, heartbeats every second (chunking may block a few seconds). */
export const INGEST_PARSE: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
  },
};

/**
 * Embed and store a file's chunks, batch by batch. A lost worker is noticed in
 * 5 s and the retry resumes after the last stored batch; cancellation (file
 * deleted) waits until the activity has stopped writing.
 */
export const INGEST_EMBED: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '5 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
};

/** Memory extraction after a turn (model calls, embeddings, one transaction): never urgent, retried patiently. */
export const MEMORY: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
  },
};

/** A dreaming model step (moments page, facts, profile). Heartbeats every second while the model thinks. */
export const DREAM_MODEL_STEP: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 6,
  },
};

/** Dreaming bookkeeping and the model-free steps (plan, affinity, watermark): database work. */
export const DREAM_STEP: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 20,
  },
};

/** Lifecycle writes of a turn run in the worker as local activities. */
export const LOCAL_PERSIST: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: {
    initialInterval: '200 ms',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    maximumAttempts: 30,
  },
};
