import type { SseFrame } from '../../src/events/sse';
import type { RunEvent, RunEventType } from '../../src/events/types';
import { OpenAIChunkRenderer } from '../../src/api/render/openai-chunks';

/** The OpenAI chunk stream rendered from a run's event log (API.md "OpenAI-compatible"). */

interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string };
    finish_reason: string | null;
  }[];
  usage?: Record<string, number>;
}

function renderer(options: Partial<{ includeUsage: boolean; extended: boolean }> = {}) {
  return new OpenAIChunkRenderer({
    runId: 'run-1',
    model: 'm',
    created: 1700000000,
    includeUsage: options.includeUsage ?? false,
    extended: options.extended ?? false,
  });
}

/** A log builder: events get consecutive sequence numbers, as the event log assigns them. */
function log() {
  const events: RunEvent[] = [];
  const add = (type: RunEventType, data: Record<string, unknown> = {}) => {
    events.push({ seq: events.length + 1, type, data });
    return add;
  };
  return { events, add };
}

function renderAll(r: OpenAIChunkRenderer, events: RunEvent[]): SseFrame[] {
  return events.flatMap((e) => r.render(e));
}

const chunks = (frames: SseFrame[]) =>
  frames.filter((f) => !f.event && f.data !== '[DONE]').map((f) => JSON.parse(f.data) as Chunk);
const text = (frames: SseFrame[]) =>
  chunks(frames)
    .flatMap((c) => c.choices)
    .map((c) => c.delta.content ?? '')
    .join('');

describe('OpenAIChunkRenderer', () => {
  it('puts role on the first text frame only, numbers frames by seq and ends with [DONE]', () => {
    const { events, add } = log();
    add('run.started')('message.delta', { content: 'Hel' })('message.delta', { content: 'lo' })(
      'usage',
      {
        prompt_tokens: 3,
        completion_tokens: 2,
        total_tokens: 5,
      },
    )('done', { reason: 'stop', message_id: 'm1' });
    const frames = renderAll(renderer(), events);

    expect(frames.at(-1)).toEqual({ id: 5, data: '[DONE]' });
    expect(frames.filter((f) => f.data === '[DONE]')).toHaveLength(1);
    const all = chunks(frames);
    expect(all.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: 'Hel' },
      { content: 'lo' },
      {},
    ]);
    expect(all.map((c) => c.choices[0].finish_reason)).toEqual([null, null, 'stop']);
    expect(frames.map((f) => f.id)).toEqual([2, 3, 5, 5]);
    for (const c of all) {
      expect(c).toMatchObject({
        id: 'chatcmpl-run-1',
        object: 'chat.completion.chunk',
        created: 1700000000,
        model: 'm',
      });
    }
    expect(frames.some((f) => f.event)).toBe(false);
  });

  it('sends a usage chunk (empty choices) before [DONE] only with includeUsage', () => {
    const { events, add } = log();
    add('message.delta', { content: 'hi' })('usage', {
      prompt_tokens: 7,
      completion_tokens: 1,
      total_tokens: 8,
    })('done', {
      reason: 'stop',
    });
    const without = renderAll(renderer(), events);
    expect(chunks(without).some((c) => c.usage)).toBe(false);

    const withUsage = renderAll(renderer({ includeUsage: true }), events);
    const usageChunks = chunks(withUsage).filter((c) => c.usage);
    expect(usageChunks).toHaveLength(1);
    expect(usageChunks[0].choices).toEqual([]);
    expect(usageChunks[0].usage).toEqual({
      prompt_tokens: 7,
      completion_tokens: 1,
      total_tokens: 8,
    });
    expect(JSON.parse(withUsage.at(-2)!.data).usage).toBeDefined();
    expect(withUsage.at(-1)).toEqual({ id: 3, data: '[DONE]' });
  });

  it('gives the usage chunk and [DONE] the id of the last event of the run', () => {
    const { events, add } = log();
    add('message.delta', { content: 'hi' })('usage', {
      prompt_tokens: 7,
      completion_tokens: 1,
      total_tokens: 8,
    })('done', { reason: 'stop' });
    const last = events.at(-1)!.seq;
    for (const r of [
      renderer({ includeUsage: true }),
      renderer({ includeUsage: true, extended: true }),
    ]) {
      const frames = renderAll(r, events);
      expect(frames.every((f) => typeof f.id === 'number')).toBe(true);
      expect(frames.at(-1)).toEqual({ id: last, data: '[DONE]' });
      expect(frames.find((f) => !f.event && f.data.includes('"usage"'))!.id).toBe(last);
    }
  });

  it('gives a role on the finish chunk when the answer had no text', () => {
    const { events, add } = log();
    add('done', { reason: 'cancelled' });
    const all = chunks(renderAll(renderer(), events));
    expect(all).toHaveLength(1);
    expect(all[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(all[0].choices[0].finish_reason).toBe('stop');
  });

  it('maps finish reasons: length stays length', () => {
    const { events, add } = log();
    add('message.delta', { content: 'x' })('done', { reason: 'length' });
    expect(chunks(renderAll(renderer(), events)).at(-1)!.choices[0].finish_reason).toBe('length');
  });

  it('adds named events (empty choices, the event inside) only when extended', () => {
    const { events, add } = log();
    add('run.started')('reasoning', { content: 'think', step: 0 })('progress', {
      step: 1,
      total_steps: 2,
      label: 'x',
      status: 'running',
    })('tool_call', { id: 'c1', tool_name: 'lookup', status: 'pending', arguments: {} })(
      'message.delta',
      { content: 'ok' },
    )('title', { title: 'T' })('done', { reason: 'stop' });

    const plain = renderAll(renderer(), events);
    expect(plain.filter((f) => f.event)).toEqual([]);
    expect(text(plain)).toBe('ok');

    const extended = renderAll(renderer({ extended: true }), events);
    const named = extended.filter((f) => f.event);
    expect(named.map((f) => f.event)).toEqual([
      'reasoning',
      'progress',
      'tool_call',
      'title',
      'done',
    ]);
    for (const f of named) {
      const data = JSON.parse(f.data);
      expect(data).toMatchObject({
        object: 'chat.completion.chunk',
        choices: [],
        type: f.event,
        seq: f.id,
      });
      expect(f.id).toBe(events.find((e) => e.type === f.event)!.seq);
    }
    expect(JSON.parse(named[0].data).data).toEqual({ content: 'think', step: 0 });
    expect(text(extended)).toBe('ok');
    expect(extended.at(-1)).toEqual({ id: events.at(-1)!.seq, data: '[DONE]' });
  });

  it('after a retry swallows the repeated text and passes only what is new', () => {
    const { events, add } = log();
    add('message.delta', { content: 'Hello ' })('message.delta', { content: 'wor' })('retry', {
      attempt: 2,
      reason: 'connection lost',
      discard_from_seq: 1,
    })('message.delta', { content: 'Hel' })('message.delta', { content: 'lo ' })('message.delta', {
      content: 'world!',
    })('done', { reason: 'stop' });
    const frames = renderAll(renderer(), events);
    expect(text(frames)).toBe('Hello world!');
    const deltas = chunks(frames)
      .map((c) => c.choices[0].delta.content)
      .filter((c) => c);
    expect(deltas).toEqual(['Hello ', 'wor', 'ld!']);
    // The plain stream never shows the retry itself.
    expect(frames.some((f) => f.event === 'retry')).toBe(false);
  });

  it('keeps text from before the discard point and replays only the discarded part', () => {
    const { events, add } = log();
    // Step 0 answered "A. "; step 1's first attempt ("Bx") is discarded from seq 2.
    add('message.delta', { content: 'A. ' })('message.delta', { content: 'Bx' })('retry', {
      attempt: 2,
      discard_from_seq: 2,
    })('message.delta', { content: 'By' })('done', { reason: 'stop' });
    expect(text(renderAll(renderer(), events))).toBe('A. Bxy');
  });

  it('discards nothing when the failed attempt wrote nothing (discard_from_seq null)', () => {
    const { events, add } = log();
    add('message.delta', { content: 'kept' })('retry', { attempt: 2, discard_from_seq: null })(
      'message.delta',
      {
        content: ' new',
      },
    )('done', { reason: 'stop' });
    expect(text(renderAll(renderer(), events))).toBe('kept new');
  });

  it('passes the retry event to extended clients', () => {
    const { events, add } = log();
    add('message.delta', { content: 'ab' })('retry', { attempt: 2, discard_from_seq: 1 })(
      'message.delta',
      { content: 'abc' },
    )('done', { reason: 'stop' });
    const frames = renderAll(renderer({ extended: true }), events);
    expect(frames.filter((f) => f.event === 'retry')).toHaveLength(1);
    expect(text(frames)).toBe('abc');
  });

  // Known bug (src/api/render/openai-chunks.ts, text()): when a retried attempt
  // extends past the replayed text, only the new suffix is recorded in `sent`,
  // so a second retry replays a wrong prefix and the client sees text twice.
  // Flip to `it` once fixed.
  it('survives two retries of the same step without duplicating text', () => {
    const { events, add } = log();
    add('message.delta', { content: 'Hello ' })('message.delta', { content: 'wor' })('retry', {
      attempt: 2,
      discard_from_seq: 1,
    })('message.delta', { content: 'Hello ' })('message.delta', { content: 'world!' })('retry', {
      attempt: 3,
      discard_from_seq: 4,
    })('message.delta', {
      content: 'Hello world!',
    })('message.delta', { content: ' Bye.' })('done', { reason: 'stop' });
    expect(text(renderAll(renderer(), events))).toBe('Hello world! Bye.');
  });

  it('renders a run error as an error frame for plain clients and a named event for extended ones', () => {
    const { events, add } = log();
    add('error', { code: 'provider_error', message: 'boom' })('done', { reason: 'failed' });
    const plain = renderAll(renderer(), events);
    expect(JSON.parse(plain[0].data)).toEqual({
      error: { code: 'provider_error', message: 'boom', type: 'api_error' },
    });
    const extended = renderAll(renderer({ extended: true }), events);
    expect(extended[0].event).toBe('error');
    expect(extended.at(-1)).toEqual({ id: events.at(-1)!.seq, data: '[DONE]' });
  });
});
