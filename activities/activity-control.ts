import { Context } from '@temporalio/activity';
import type { StepControl } from '../src/step-control';

/**
 * The running activity as domain code sees it ({@link StepControl}): its
 * cancellation signal, and heartbeats every `everyMs` while kept alive.
 * With `immediate`, keeping alive also heartbeats at once (a slow first
 * interval must not look like a lost worker).
 */
export function activityControl(everyMs: number, { immediate = false } = {}): StepControl {
  const ctx = Context.current();
  return {
    signal: ctx.cancellationSignal,
    keepAlive(details?: () => unknown) {
      if (immediate) ctx.heartbeat(details?.());
      const timer = setInterval(() => ctx.heartbeat(details?.()), everyMs);
      return () => clearInterval(timer);
    },
  };
}
