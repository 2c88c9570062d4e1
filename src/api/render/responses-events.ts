import type { RunRow, RunStatus } from '../../db/runs';
import type { SseFrame } from '../../events/sse';
import type { RunEvent } from '../../events/types';
import { outputItemId, outputMessageItem, responseJson, type TurnTokens } from './responses-json';
import { RetryTextFilter, runEventError } from './retry-text-filter';

/** How the run ended, by the reason its `done` event gives. */
const ENDINGS: Record<string, { status: RunStatus; incompleteReason: string | null }> = {
  failed: { status: 'failed', incompleteReason: 'failed' },
  cancelled: { status: 'cancelled', incompleteReason: 'cancelled' },
  interrupted: { status: 'interrupted', incompleteReason: 'interrupted' },
  length: { status: 'succeeded', incompleteReason: 'max_tokens' },
};

/** The final event's type for the response status it carries. */
const FINAL_EVENT: Record<string, string> = {
  completed: 'response.completed',
  failed: 'response.failed',
};

/**
 * Renders a run's event log as an OpenAI Responses stream.
 *
 * `sequence_number`s count the rendered events from 0 and depend only on the
 * log, so rendering the log again from its start numbers every event the
 * same way: a client resumes with `starting_after=N` and the stream skips
 * what it already had, however many API processes served it before.
 * A retried attempt's repeated text is swallowed ({@link RetryTextFilter});
 * the closing `output_text.done` carries the whole text as stored.
 */
export class ResponsesEventRenderer {
  private next = 0;
  private readonly retries = new RetryTextFilter();
  private itemOpen = false;
  private usage: TurnTokens | undefined;
  private error: { code: string; message: string } | null = null;

  /** @param startingAfter events numbered up to this are not sent (-1: send all) */
  constructor(
    private readonly run: RunRow,
    private readonly startingAfter = -1,
  ) {}

  /** `response.created`: the stream's first event, before any of the log. */
  created(): SseFrame[] {
    return this.emit('response.created', { response: this.snapshot('running') });
  }

  render(event: RunEvent): SseFrame[] {
    switch (event.type) {
      case 'run.started':
        return this.emit('response.in_progress', { response: this.snapshot('running') });
      case 'message.delta':
        return this.text(event);
      case 'retry':
        this.retries.retry(event);
        return [];
      case 'usage':
        this.usage = event.data;
        return [];
      case 'error':
        this.error = runEventError(event, 'the turn failed');
        return [];
      case 'done':
        return this.finish(event);
      default:
        // Reasoning, progress and tool events have no Responses form here yet.
        return [];
    }
  }

  private text(event: RunEvent): SseFrame[] {
    const original = typeof event.data.content === 'string' ? event.data.content : '';
    const delta = this.retries.accept(event.seq, original);
    const frames = this.openItem();
    if (delta)
      frames.push(
        ...this.emit('response.output_text.delta', { ...this.at(), delta, logprobs: [] }),
      );
    return frames;
  }

  private openItem(): SseFrame[] {
    if (this.itemOpen) return [];
    this.itemOpen = true;
    return [
      ...this.emit('response.output_item.added', {
        output_index: 0,
        item: { ...outputMessageItem(outputItemId(this.run.id), '', 'in_progress'), content: [] },
      }),
      ...this.emit('response.content_part.added', {
        ...this.at(),
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      }),
    ];
  }

  private finish(event: RunEvent): SseFrame[] {
    const reason = typeof event.data.reason === 'string' ? event.data.reason : 'stop';
    const ending = ENDINGS[reason] ?? { status: 'succeeded' as const, incompleteReason: null };
    const frames: SseFrame[] = [];
    const final = this.snapshot(ending.status, ending.incompleteReason);
    if (this.itemOpen) {
      const text = this.retries.text();
      const item = final.output[0];
      frames.push(
        ...this.emit('response.output_text.done', { ...this.at(), text, logprobs: [] }),
        ...this.emit('response.content_part.done', { ...this.at(), part: item.content[0] }),
        ...this.emit('response.output_item.done', { output_index: 0, item }),
      );
    }
    frames.push(
      ...this.emit(FINAL_EVENT[final.status] ?? 'response.incomplete', { response: final }),
    );
    return frames;
  }

  private snapshot(status: RunStatus, incompleteReason: string | null = null) {
    const finished = status !== 'running';
    return responseJson({
      run: this.run,
      status,
      text: finished && this.itemOpen ? this.retries.text() : undefined,
      incompleteReason,
      usage: finished ? (this.usage ?? {}) : undefined,
      error: this.error,
    });
  }

  private at() {
    return { item_id: outputItemId(this.run.id), output_index: 0, content_index: 0 };
  }

  private emit(type: string, fields: Record<string, unknown>): SseFrame[] {
    const n = this.next++;
    if (n <= this.startingAfter) return [];
    return [{ id: n, event: type, data: JSON.stringify({ type, sequence_number: n, ...fields }) }];
  }
}
