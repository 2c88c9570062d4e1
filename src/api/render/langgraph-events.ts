import type { RunRow } from '../../db/runs';
import type { SseFrame } from '../../events/sse';
import type { RunEvent } from '../../events/types';
import { userMessageId } from '../../turns/message-keys';
import { answerMessageId, type LangGraphMessage } from './langgraph-json';
import { RetryTextFilter, runEventError } from './retry-text-filter';

/** The stream modes LangGraph clients ask for; those without a form here send nothing. */
export const STREAM_MODES = [
  'values',
  'messages',
  'messages-tuple',
  'updates',
  'custom',
  'events',
  'debug',
  'checkpoints',
  'tasks',
] as const;
export type StreamMode = (typeof STREAM_MODES)[number];

/** Event names that differ from their mode's (the rest are named as the mode). */
const EVENT_OF_MODE: Partial<Record<StreamMode, string>> = {
  'messages-tuple': 'messages',
  messages: 'messages/complete',
};

/** The one node a turn runs, as LangGraph metadata names it. */
const NODE = 'agent';

/**
 * Renders a run's event log as a LangGraph run stream (`metadata`, then the
 * asked-for modes: `values`, `messages-tuple`, `messages`, `updates`).
 *
 * Event ids count the rendered events from 0 and depend only on the log, so
 * a join with `Last-Event-ID: N` renders the log again and sends what follows
 * N, on any API process. Text a retried attempt repeats is swallowed.
 */
export class LangGraphEventRenderer {
  private next = 0;
  private readonly retries = new RetryTextFilter();
  private shown = '';
  private announced = false;
  private error: { code: string; message: string } | undefined;
  private readonly modes: Set<StreamMode>;
  private readonly input: LangGraphMessage[];

  /**
   * @param prior the thread's messages before this run's
   * @param startingAfter events numbered up to this are not sent (-1: send all)
   */
  constructor(
    private readonly run: RunRow,
    private readonly prior: LangGraphMessage[],
    modes: StreamMode[],
    private readonly startingAfter = -1,
  ) {
    this.modes = new Set(modes.length ? modes : ['values']);
    this.input = run.input.messages.map((m, i) => ({
      type: 'human',
      id: userMessageId(run.id, i),
      content: m.content,
    }));
  }

  /** `metadata`: the stream's first event, before any of the log. */
  start(): SseFrame[] {
    return this.emit('metadata', { run_id: this.run.id, attempt: 1 });
  }

  render(event: RunEvent): SseFrame[] {
    switch (event.type) {
      case 'run.started':
        return this.when('values', () => ({ messages: [...this.prior, ...this.input] }));
      case 'message.delta':
        return this.text(event);
      case 'retry':
        this.retries.retry(event);
        return [];
      case 'error':
        this.error = runEventError(event, 'the run failed');
        return [];
      case 'done':
        return this.finish(event);
      default:
        return [];
    }
  }

  private text(event: RunEvent): SseFrame[] {
    const original = typeof event.data.content === 'string' ? event.data.content : '';
    const delta = this.retries.accept(event.seq, original);
    if (!delta) return [];
    this.shown += delta;
    const id = answerMessageId(this.run.id);
    const frames = this.when('messages-tuple', () => [
      { type: 'AIMessageChunk', id, content: delta, tool_calls: [], tool_call_chunks: [] },
      this.metadata(),
    ]);
    if (this.modes.has('messages')) {
      if (!this.announced) {
        this.announced = true;
        frames.push(...this.emit('messages/metadata', { [id]: { metadata: this.metadata() } }));
      }
      frames.push(...this.emit('messages/partial', [this.answer(this.shown)]));
    }
    return frames;
  }

  private finish(event: RunEvent): SseFrame[] {
    if (event.data.reason === 'failed') {
      const error = this.error ?? { code: 'server_error', message: 'the run failed' };
      return this.emit('error', { error: error.code, message: error.message });
    }
    const text = this.retries.text();
    const answer = text ? [this.answer(text)] : [];
    return [
      ...this.when('messages', () => answer),
      ...this.when('updates', () => ({ [NODE]: { messages: answer } })),
      ...this.when('values', () => ({ messages: [...this.prior, ...this.input, ...answer] })),
    ];
  }

  private answer(content: string): LangGraphMessage {
    return { type: 'ai', id: answerMessageId(this.run.id), content, tool_calls: [] };
  }

  private metadata() {
    return {
      run_id: this.run.id,
      thread_id: this.run.session_id,
      langgraph_node: NODE,
      langgraph_step: 1,
      ls_model_name: this.run.model,
    };
  }

  /** The event of `mode`, when the client asked for that mode. */
  private when(mode: StreamMode, data: () => unknown): SseFrame[] {
    if (!this.modes.has(mode)) return [];
    return this.emit(EVENT_OF_MODE[mode] ?? mode, data());
  }

  private emit(event: string, data: unknown): SseFrame[] {
    const n = this.next++;
    if (n <= this.startingAfter) return [];
    return [{ id: n, event, data: JSON.stringify(data) }];
  }
}
