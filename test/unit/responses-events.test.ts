import type { RunRow } from '../../src/db/runs';
import type { RunEvent, RunEventType } from '../../src/events/types';
import { ResponsesEventRenderer } from '../../src/api/render/responses-events';

/** The Responses stream rendered from a run's event log (API.md "Protocol façades"). */

const RUN = {
  id: '0b9c5b3e-8d47-4c8e-9a53-0f5a1d3e2c11',
  model: 'm',
  created_at: new Date('2026-12-01T00:00:00Z'),
  user_id: null,
  input: { messages: [{ role: 'user', content: 'hi' }], system: [], agent: 'default' },
} as unknown as RunRow;

interface Event {
  type: string;
  sequence_number: number;
  delta?: string;
  text?: string;
  response?: {
    status: string;
    output: { status: string; content: { text: string }[] }[];
    error: unknown;
    incomplete_details: unknown;
    usage: { input_tokens: number; output_tokens: number } | null;
  };
}

function log(...entries: [RunEventType, Record<string, unknown>?][]): RunEvent[] {
  return entries.map(([type, data], i) => ({ seq: i + 1, type, data: data ?? {} }));
}

function render(events: RunEvent[], startingAfter = -1): Event[] {
  const r = new ResponsesEventRenderer(RUN, startingAfter);
  return [...r.created(), ...events.flatMap((e) => r.render(e))].map((f) => {
    const parsed = JSON.parse(f.data) as Event;
    // The SSE id, the event name and the payload agree.
    expect(f.id).toBe(parsed.sequence_number);
    expect(f.event).toBe(parsed.type);
    return parsed;
  });
}

const text = (events: Event[]) =>
  events
    .filter((e) => e.type === 'response.output_text.delta')
    .map((e) => e.delta)
    .join('');

const USAGE = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

describe('ResponsesEventRenderer', () => {
  it('numbers events from 0 and renders the same numbers from the same log every time', () => {
    const events = log(
      ['run.started'],
      ['message.delta', { content: 'Hel' }],
      ['message.delta', { content: 'lo' }],
      ['usage', USAGE],
      ['done', { reason: 'stop', message_id: 'x' }],
    );
    const all = render(events);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(text(all)).toBe('Hello');
    const final = all.at(-1)!;
    expect(final.type).toBe('response.completed');
    expect(final.response).toMatchObject({
      status: 'completed',
      output: [{ status: 'completed', content: [{ text: 'Hello' }] }],
      usage: { input_tokens: 3, output_tokens: 2 },
    });
    // A resumed stream is the tail of the first one, event for event.
    expect(render(events, 3)).toEqual(all.slice(4));
    expect(render(events, all.length - 1)).toEqual([]);
  });

  it('after a retry shows only text the client has not seen, and the done text is the stored one', () => {
    const events = log(
      ['run.started'],
      ['message.delta', { content: 'The cat' }],
      ['retry', { attempt: 2, discard_from_seq: 2 }],
      ['message.delta', { content: 'The ca' }],
      ['message.delta', { content: 't sat.' }],
      ['usage', USAGE],
      ['done', { reason: 'stop' }],
    );
    const all = render(events);
    expect(text(all)).toBe('The cat sat.');
    expect(all.find((e) => e.type === 'response.output_text.done')?.text).toBe('The cat sat.');
    // One output item, opened once.
    expect(all.filter((e) => e.type === 'response.output_item.added')).toHaveLength(1);
  });

  it('ends a failed run with response.failed carrying the error, and no output item without text', () => {
    const all = render(
      log(
        ['run.started'],
        ['error', { code: 'provider_error', message: 'upstream 500' }],
        ['usage', USAGE],
        ['done', { reason: 'failed', message_id: null }],
      ),
    );
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.failed',
    ]);
    expect(all.at(-1)!.response).toMatchObject({
      status: 'failed',
      output: [],
      error: { code: 'provider_error', message: 'upstream 500' },
    });
    // No top-level `error`: the SDK would throw on it instead of yielding the event.
    expect(all.every((e) => !('error' in e))).toBe(true);
  });

  it('ends cut-short runs with response.incomplete: cancelled, interrupted, max tokens', () => {
    const ending = (reason: string) =>
      render(
        log(
          ['run.started'],
          ['message.delta', { content: 'partial' }],
          ['usage', USAGE],
          ['done', { reason }],
        ),
      ).at(-1)!;
    expect(ending('cancelled')).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'cancelled', output: [{ status: 'incomplete' }] },
    });
    expect(ending('interrupted')).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'interrupted' } },
    });
    expect(ending('length')).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
  });
});
