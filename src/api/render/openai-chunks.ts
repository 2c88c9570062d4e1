import type { SseFrame } from '../../events/sse';
import type { RunEvent } from '../../events/types';
import { RetryTextFilter } from './retry-text-filter';

export interface ChunkRendererOptions {
  runId: string;
  model: string;
  created: number;
  includeUsage: boolean;
  /** Add the run's named events (reasoning, progress, ...) to the stream. */
  extended: boolean;
}

const FINISH_REASONS: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'stop',
  content_filter: 'content_filter',
};

/**
 * Renders a run's event log as an OpenAI `chat.completion.chunk` stream.
 *
 * A plain SDK client cannot take back text it has shown, so after a `retry`
 * the renderer swallows the new attempt's text while it repeats what was
 * already sent and passes on only what is new. Extended clients also get the
 * `retry` event itself.
 */
export class OpenAIChunkRenderer {
  private sentRole = false;
  private usage: Record<string, number> | undefined;
  private readonly retries = new RetryTextFilter();
  readonly id: string;

  constructor(private readonly options: ChunkRendererOptions) {
    this.id = `chatcmpl-${options.runId}`;
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null = null) {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.options.created,
      model: this.options.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    };
  }

  private named(event: RunEvent): SseFrame {
    return {
      id: event.seq,
      event: event.type,
      data: JSON.stringify({
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.options.created,
        model: this.options.model,
        choices: [],
        type: event.type,
        seq: event.seq,
        data: event.data,
      }),
    };
  }

  /** Frames for one event; `done` also yields the finish, usage and `[DONE]` frames. */
  render(event: RunEvent): SseFrame[] {
    switch (event.type) {
      case 'message.delta':
        return this.text(event);
      case 'retry':
        this.retries.retry(event);
        return this.options.extended ? [this.named(event)] : [];
      case 'usage':
        this.usage = event.data as Record<string, number>;
        return [];
      case 'error':
        return this.options.extended
          ? [this.named(event)]
          : [
              {
                id: event.seq,
                data: JSON.stringify({ error: { ...event.data, type: 'api_error' } }),
              },
            ];
      case 'done':
        return this.finish(event);
      case 'run.started':
        return [];
      default:
        return this.options.extended ? [this.named(event)] : [];
    }
  }

  private text(event: RunEvent): SseFrame[] {
    const original = typeof event.data.content === 'string' ? event.data.content : '';
    const content = this.retries.accept(event.seq, original);
    if (!content) return [];
    const delta: Record<string, unknown> = { content };
    if (!this.sentRole) {
      delta.role = 'assistant';
      this.sentRole = true;
    }
    return [{ id: event.seq, data: JSON.stringify(this.chunk(delta)) }];
  }

  private finish(event: RunEvent): SseFrame[] {
    const frames: SseFrame[] = [];
    if (this.options.extended) frames.push(this.named(event));
    const reason = typeof event.data.reason === 'string' ? event.data.reason : 'stop';
    const delta: Record<string, unknown> = this.sentRole ? {} : { role: 'assistant', content: '' };
    frames.push({
      id: event.seq,
      data: JSON.stringify(this.chunk(delta, FINISH_REASONS[reason] ?? 'stop')),
    });
    // `done` is the run's last event: the trailing frames carry its seq so a
    // client resuming from any frame's id gets nothing twice (API.md).
    if (this.options.includeUsage) {
      frames.push({
        id: event.seq,
        data: JSON.stringify({
          id: this.id,
          object: 'chat.completion.chunk',
          created: this.options.created,
          model: this.options.model,
          choices: [],
          usage: this.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        }),
      });
    }
    frames.push({ id: event.seq, data: '[DONE]' });
    return frames;
  }
}
