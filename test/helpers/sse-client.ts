/**
 * A test client for a run's native SSE stream (API.md "Runs and events").
 *
 * It reads `GET /v1/runs/{id}/events` (or the native stream a
 * `POST /v1/sessions/{id}/messages` with `stream: true` answers with), keeps a
 * transcript of every frame across connections, resumes with `Last-Event-ID`
 * after a dropped connection, applies `retry.discard_from_seq` and rebuilds
 * the final text. Every `seq` it saw is recorded (duplicates included), so a
 * test can assert that no event was delivered twice and none was skipped.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** One frame as received. `seq` is undefined for frames without `id:` (`run.state`). */
export interface ReceivedFrame {
  /** Which connection delivered it: 0 for the first, 1 for the first resume, ... */
  connection: number;
  seq?: number;
  event: string;
  data: Record<string, unknown>;
  /** `Date.now()` when it was parsed. */
  at: number;
}

/** How one connection ended. */
export interface StreamEnd {
  /** `done`: the run's `done` event arrived; `closed`: the server ended the body; `error`: the connection broke. */
  reason: 'done' | 'closed' | 'error' | 'aborted';
  error?: unknown;
  /** Frames this connection delivered. */
  frames: number;
}

export interface RunEventsClientOptions {
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

export class RunEventsClient {
  /** Every frame, in arrival order, across all connections. */
  readonly frames: ReceivedFrame[] = [];
  /** Every `seq` received, in arrival order (a duplicate would appear twice). */
  readonly seqs: number[] = [];
  /** Text deltas still standing (not discarded by a `retry`). */
  private deltas: { seq: number; content: string }[] = [];
  /** Deltas dropped because of a `retry`. */
  readonly discarded: { seq: number; content: string }[] = [];
  /** Connections opened so far. */
  connections = 0;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly options: RunEventsClientOptions = {}) {}

  /** The highest seq received (the `Last-Event-ID` of the next resume). */
  get lastSeq(): number | undefined {
    return this.seqs.length > 0 ? Math.max(...this.seqs) : undefined;
  }

  /** The final text: every delta, minus those a `retry` said to discard. */
  get text(): string {
    return this.deltas.map((d) => d.content).join('');
  }

  /** Whether the run's `done` event arrived. */
  get done(): ReceivedFrame | undefined {
    return this.frames.find((f) => f.event === 'done');
  }

  /** Frames of one type. */
  ofType(event: string): ReceivedFrame[] {
    return this.frames.filter((f) => f.event === event);
  }

  /** Frames one connection delivered. */
  ofConnection(connection: number): ReceivedFrame[] {
    return this.frames.filter((f) => f.connection === connection);
  }

  /**
   * Problems with the seqs received: duplicates, out-of-order ones, and gaps
   * (every seq from 1 to the highest must have arrived exactly once).
   * Empty when the delivery was perfect.
   */
  seqProblems(): string[] {
    const problems: string[] = [];
    const seen = new Set<number>();
    let previous = 0;
    for (const seq of this.seqs) {
      if (seen.has(seq)) problems.push(`seq ${seq} delivered twice`);
      else if (seq <= previous) problems.push(`seq ${seq} arrived after ${previous}`);
      seen.add(seq);
      previous = Math.max(previous, seq);
    }
    for (let seq = 1; seq <= previous; seq++)
      if (!seen.has(seq)) problems.push(`seq ${seq} never arrived`);
    return problems;
  }

  /** Resolves once `check()` holds (checked after every frame), or rejects after `timeoutMs`. */
  waitFor(check: (client: this) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
    if (check(this)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.describe()}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        check: () => check(this),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** A compact listing of the frames, for failure messages. */
  describe(): string {
    return this.frames.map((f) => `${f.connection}:${f.seq ?? '-'}:${f.event}`).join(' ');
  }

  /**
   * Read an already-open native SSE response to its end. Never throws: a
   * broken connection is reported as `{ reason: 'error' }`.
   */
  async consume(response: Response, signal?: AbortSignal): Promise<StreamEnd> {
    const connection = this.connections++;
    let frames = 0;
    let sawDone = false;
    if (!response.ok || !response.body) {
      const body = await response.text().catch(() => '');
      return { reason: 'error', error: new Error(`HTTP ${response.status}: ${body}`), frames };
    }
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        frames++;
        if (this.apply(connection, message)) sawDone = true;
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    const onAbort = () => void reader.cancel().catch(() => undefined);
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      if (signal?.aborted) return { reason: 'aborted', frames };
      return { reason: sawDone ? 'done' : 'closed', frames };
    } catch (error) {
      if (signal?.aborted) return { reason: 'aborted', frames };
      return { reason: sawDone ? 'done' : 'error', error, frames };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Open `GET /v1/runs/{id}/events`, resuming after the last seq received
   * (no `Last-Event-ID` when nothing has arrived yet), and read it to its end.
   */
  async resume(baseUrl: string, runId: string, signal?: AbortSignal): Promise<StreamEnd> {
    const headers: Record<string, string> = {
      Accept: 'text/event-stream',
      ...this.options.headers,
    };
    const last = this.lastSeq;
    if (last !== undefined) headers['Last-Event-ID'] = String(last);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/v1/runs/${runId}/events`, { headers, signal });
    } catch (error) {
      return { reason: signal?.aborted ? 'aborted' : 'error', error, frames: 0 };
    }
    return this.consume(response, signal);
  }

  /**
   * Keep resuming until `done` arrived: after a broken or closed connection,
   * wait `retryMs` and reconnect (to `baseUrl()`, which may change when the
   * API restarts) with `Last-Event-ID`. Gives up after `timeoutMs`.
   */
  async follow(
    baseUrl: string | (() => string),
    runId: string,
    options: { retryMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<StreamEnd[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const ends: StreamEnd[] = [];
    while (!this.done) {
      if (options.signal?.aborted) break;
      if (Date.now() > deadline) {
        throw new Error(
          `run ${runId}: no done before the deadline; ends: ${JSON.stringify(ends.map((e) => e.reason))}; frames: ${this.describe()}`,
        );
      }
      const url = typeof baseUrl === 'string' ? baseUrl : baseUrl();
      const end = await this.resume(url, runId, options.signal);
      ends.push(end);
      if (!this.done) await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 200));
    }
    return ends;
  }

  /** Record one parsed frame; returns true for `done`. */
  private apply(connection: number, message: EventSourceMessage): boolean {
    const event = message.event ?? 'message';
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(message.data) as Record<string, unknown>;
    } catch {
      data = { raw: message.data };
    }
    const seq = message.id !== undefined && message.id !== '' ? Number(message.id) : undefined;
    this.frames.push({ connection, seq, event, data, at: Date.now() });
    if (seq !== undefined) this.seqs.push(seq);
    if (event === 'message.delta' && seq !== undefined) {
      this.deltas.push({ seq, content: typeof data.content === 'string' ? data.content : '' });
    } else if (event === 'retry') {
      const from = data.discard_from_seq;
      if (typeof from === 'number') {
        // Only what arrived before this retry: the new attempt's deltas come after it.
        this.discarded.push(...this.deltas.filter((d) => d.seq >= from));
        this.deltas = this.deltas.filter((d) => d.seq < from);
      }
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve();
      }
    }
    return event === 'done';
  }
}

/** `fetch` a URL and parse its JSON body as `T` (tests know the shapes they assert on). */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  return (await res.json()) as T;
}

/** A run as `GET /v1/runs/{id}` shows it (the fields the crash tests assert on). */
export interface RunJson {
  id: string;
  status: string;
  last_seq: number;
  message_id: string | null;
}

/** A message as the API shows it. */
export interface MessageJson {
  id: string;
  role: string;
  content: string;
  status: string;
}

/** Read an OpenAI `chat.completion.chunk` SSE response: the text, the frames, and whether `[DONE]` came. */
export async function readChunkStream(
  response: Response,
  onChunk?: (text: string, frame: EventSourceMessage) => void,
): Promise<{
  text: string;
  frames: EventSourceMessage[];
  sawDone: boolean;
  finishReason: string | null;
  error?: unknown;
}> {
  const frames: EventSourceMessage[] = [];
  let text = '';
  let sawDone = false;
  let finishReason: string | null = null;
  const parser = createParser({
    onEvent: (message) => {
      frames.push(message);
      if (message.data === '[DONE]') {
        sawDone = true;
        return;
      }
      if (message.event) return; // a named (extended) event
      const chunk = JSON.parse(message.data) as {
        choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
      };
      const choice = chunk.choices?.[0];
      const content = choice?.delta?.content ?? '';
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      text += content;
      if (content) onChunk?.(text, message);
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return { text, frames, sawDone, finishReason, error };
  }
  return { text, frames, sawDone, finishReason };
}
