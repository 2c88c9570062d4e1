import type { RunRow } from '../../db/runs';
import { streamRunEvents } from '../../events/run-event-stream';
import { SseStream, type SseFrame } from '../../events/sse';
import type { RunEvent } from '../../events/types';
import type { ApiContext, ApiDeps } from '../context';

export interface PipeOptions {
  run: RunRow;
  afterSeq: number;
  headers?: Record<string, string>;
  /** Frames sent before any event (e.g. `run.state` on a resumed stream). */
  preamble?: SseFrame[];
  render: (event: RunEvent) => SseFrame[];
  onFirstText?: () => void;
}

/**
 * Open an SSE response and pipe a run's event log into it until `done` or
 * until the client leaves. Leaving never cancels the run.
 */
export async function pipeRunEvents(
  ctx: ApiContext,
  deps: ApiDeps,
  options: PipeOptions,
): Promise<void> {
  // Over the caller's cap: 429 before the response starts.
  const release = await deps.limits.sse.acquire(ctx.state.principal);
  const sse = new SseStream(ctx, options.headers);
  deps.metrics.openStreams.inc();
  // Respond now; the body streams as events arrive.
  void (async () => {
    try {
      for (const frame of options.preamble ?? []) sse.write(frame);
      sse.comment('stream open');
      let firstText = true;
      for await (const event of streamRunEvents({
        pool: deps.pool,
        hub: deps.hub,
        runId: options.run.id,
        afterSeq: options.afterSeq,
        signal: sse.signal,
        idleMs: deps.config.sseKeepAliveMs,
        onIdle: () => sse.comment('keep-alive'),
        onRelayed: (ms) => deps.metrics.sseRelay.observe(ms / 1000),
      })) {
        if (firstText && event.type === 'message.delta') {
          firstText = false;
          options.onFirstText?.();
        }
        for (const frame of options.render(event)) sse.write(frame);
      }
    } catch (err) {
      ctx.state.log.warn(
        { err: (err as Error).message, runId: options.run.id },
        'run event stream ended with an error',
      );
    } finally {
      deps.metrics.openStreams.dec();
      release();
      sse.end();
    }
  })();
}

/** Render a stored event as a native SSE frame. */
export function nativeFrame(event: RunEvent): SseFrame {
  return { id: event.seq, event: event.type, data: JSON.stringify(event.data) };
}
