import { PassThrough } from 'node:stream';
import type Koa from 'koa';

export interface SseFrame {
  id?: number | string;
  event?: string;
  data: string;
}

/** Serialise one SSE frame. */
export function formatSseFrame(frame: SseFrame): string {
  let out = '';
  if (frame.id !== undefined) out += `id: ${frame.id}\n`;
  if (frame.event) out += `event: ${frame.event}\n`;
  for (const line of frame.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * An open SSE response. Writing never blocks the producer for long: frames go
 * into the socket buffer; `closed` turns true (and `signal` aborts) when the
 * client goes away — which never cancels the run.
 */
export class SseStream {
  private readonly body = new PassThrough();
  private readonly controller = new AbortController();
  /** Frames written in this turn of the event loop, sent together at its end. */
  private pending = '';
  private flushing: NodeJS.Immediate | undefined;

  constructor(ctx: Koa.Context, headers: Record<string, string> = {}) {
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...headers,
    });
    ctx.status = 200;
    ctx.body = this.body;
    const onClose = () => this.controller.abort();
    ctx.req.on('close', onClose);
    ctx.res.on('close', onClose);
    this.body.on('error', onClose);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * Queue a frame. Frames of one event batch arrive in the same turn of the
   * event loop and leave as one socket write (one syscall and one HTTP chunk
   * instead of one per token), before any I/O of the next turn.
   */
  write(frame: SseFrame): void {
    this.send(formatSseFrame(frame));
  }

  /** A comment line: keeps proxies and clients from timing out an idle stream. */
  comment(text: string): void {
    this.send(`: ${text}\n\n`);
  }

  end(): void {
    this.flush();
    this.body.end();
  }

  private send(text: string): void {
    if (this.closed) return;
    this.pending += text;
    this.flushing ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (this.pending && !this.closed) this.body.write(this.pending);
    this.pending = '';
  }
}
