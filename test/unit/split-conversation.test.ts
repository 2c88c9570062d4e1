import { splitConversation } from '../../src/api/routes/chat-completions';

/** How an OpenAI `messages` array becomes history, this turn's user messages and system messages. */
describe('splitConversation', () => {
  it('takes the trailing user messages after the last assistant message as the new turn', () => {
    const { system, turn, history } = splitConversation([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'u2' },
      { role: 'user', content: 'u3' },
    ]);
    expect(system).toEqual([]);
    expect(turn).toEqual([
      { role: 'user', content: 'u2' },
      { role: 'user', content: 'u3' },
    ]);
    expect(history).toEqual([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
    ]);
  });

  it('collects system and developer messages wherever they are, for this turn only', () => {
    const { system, turn, history } = splitConversation([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
      { role: 'developer', content: 'use French' },
      { role: 'user', content: 'u2' },
    ]);
    expect(system).toEqual(['be brief', 'use French']);
    expect(turn).toEqual([{ role: 'user', content: 'u2' }]);
    expect(history).toEqual([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
    ]);
  });

  it('a single user message is the whole turn and there is no history', () => {
    expect(splitConversation([{ role: 'user', content: 'hi' }])).toEqual({
      system: [],
      turn: [{ role: 'user', content: 'hi' }],
      history: [],
    });
  });

  it('has an empty turn when the conversation ends with an assistant message', () => {
    const { turn, history } = splitConversation([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
    ]);
    expect(turn).toEqual([]);
    expect(history).toHaveLength(2);
  });

  it('joins text parts and treats null content as empty', () => {
    const { turn, history } = splitConversation([
      { role: 'assistant', content: null },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'part one, ' },
          { type: 'text', text: 'part two' },
        ],
      },
    ]);
    expect(turn).toEqual([{ role: 'user', content: 'part one, part two' }]);
    // An assistant message with no text adds nothing to seed.
    expect(history).toEqual([]);
  });

  it('leaves tool messages out of the seeded history and ends the turn at a tool result', () => {
    const { turn, history } = splitConversation([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1' }] },
      { role: 'tool', content: 'r1', tool_call_id: 'c1' },
      { role: 'user', content: 'u2' },
    ]);
    expect(turn).toEqual([{ role: 'user', content: 'u2' }]);
    // The tool-call-only assistant message has no text: it is not seeded.
    expect(history.map((m) => m.role)).toEqual(['user']);
    expect(history.every((m) => m.role === 'user' || m.role === 'assistant')).toBe(true);
  });
});
