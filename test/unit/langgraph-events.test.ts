import type { RunRow } from '../../src/db/runs';
import type { RunEvent, RunEventType } from '../../src/events/types';
import { LangGraphEventRenderer, type StreamMode } from '../../src/api/render/langgraph-events';
import type { LangGraphMessage } from '../../src/api/render/langgraph-json';
import { userMessageId } from '../../src/turns/message-keys';

/** The LangGraph run stream rendered from a run's event log (API.md "Protocol façades"). */

const RUN = {
  id: '5d0c8b7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e',
  session_id: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d',
  model: 'm',
  input: { messages: [{ role: 'user', content: 'hi' }], system: [], agent: 'default' },
} as unknown as RunRow;

const PRIOR: LangGraphMessage[] = [{ type: 'human', id: 'p1', content: 'earlier' }];

function log(...entries: [RunEventType, Record<string, unknown>?][]): RunEvent[] {
  return entries.map(([type, data], i) => ({ seq: i + 1, type, data: data ?? {} }));
}

function render(events: RunEvent[], modes: StreamMode[], after = -1) {
  const r = new LangGraphEventRenderer(RUN, PRIOR, modes, after);
  return [...r.start(), ...events.flatMap((e) => r.render(e))].map((f) => ({
    id: f.id,
    event: f.event,
    data: JSON.parse(f.data) as unknown,
  }));
}

const TURN = log(
  ['run.started'],
  ['message.delta', { content: 'Hel' }],
  ['retry', { attempt: 2, discard_from_seq: 2 }],
  ['message.delta', { content: 'Hello' }],
  ['message.delta', { content: ' there' }],
  ['usage', {}],
  ['done', { reason: 'stop' }],
);

describe('LangGraphEventRenderer', () => {
  it('renders metadata, values before and after, chunks once across a retry, and updates', () => {
    const parts = render(TURN, ['values', 'messages-tuple', 'updates']);
    expect(parts.map((p) => p.event)).toEqual([
      'metadata',
      'values',
      'messages',
      'messages',
      'messages',
      'updates',
      'values',
    ]);
    expect(parts.map((p) => p.id)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const chunks = parts.filter((p) => p.event === 'messages');
    expect(chunks.map((c) => (c.data as [{ content: string }])[0].content).join('')).toBe(
      'Hello there',
    );
    const human = { type: 'human', id: userMessageId(RUN.id, 0), content: 'hi' };
    expect(parts[1].data).toEqual({ messages: [...PRIOR, human] });
    const answer = { type: 'ai', id: `run-${RUN.id}`, content: 'Hello there', tool_calls: [] };
    expect(parts[6].data).toEqual({ messages: [...PRIOR, human, answer] });
    expect(parts[5].data).toEqual({ agent: { messages: [answer] } });
  });

  it('numbers the same log the same way, so a join after an id is the tail', () => {
    const all = render(TURN, ['values', 'messages-tuple']);
    expect(render(TURN, ['values', 'messages-tuple'], 2)).toEqual(all.slice(3));
  });

  it('renders the legacy messages mode as metadata, partials and complete', () => {
    const parts = render(TURN, ['messages']);
    expect(parts.map((p) => p.event)).toEqual([
      'metadata',
      'messages/metadata',
      'messages/partial',
      'messages/partial',
      'messages/partial',
      'messages/complete',
    ]);
    expect((parts.at(-2)!.data as [{ content: string }])[0].content).toBe('Hello there');
  });

  it('ends a failed run with an error event', () => {
    const parts = render(
      log(
        ['run.started'],
        ['error', { code: 'provider_error', message: 'boom' }],
        ['done', { reason: 'failed' }],
      ),
      ['values'],
    );
    expect(parts.at(-1)).toMatchObject({
      event: 'error',
      data: { error: 'provider_error', message: 'boom' },
    });
  });
});
