import type { MessageRow } from '../../src/db/messages';
import { buildPrompt } from '../../src/prompt/build-prompt';

/** The prompt a model step sees: system prompt, then the history, minus unanswered tool calls. */

let seq = 0;
function row(partial: Partial<MessageRow> & Pick<MessageRow, 'role'>): MessageRow {
  seq += 1;
  return {
    id: `m${seq}`,
    tenant_id: 't',
    session_id: 's',
    run_id: null,
    seq,
    content: '',
    tool_calls: null,
    tool_call_id: null,
    status: 'completed',
    incomplete_reason: null,
    usage: null,
    idem_key: null,
    created_at: new Date(0),
    ...partial,
  };
}

const call = (id: string, name = 'lookup') => ({
  id,
  type: 'function' as const,
  function: { name, arguments: '{"q":"x"}' },
});

describe('buildPrompt', () => {
  it('starts with one system message: agent prompt, session id and this turn’s system messages', () => {
    const messages = buildPrompt({
      systemPrompt: 'Be brief.',
      sessionId: 'sess-1',
      turnSystem: ['Answer in French.'],
      history: [],
    });
    expect(messages).toHaveLength(1);
    expect(messages[0].role).toBe('system');
    expect(messages[0].content).toBe('Be brief.\n\nSession: sess-1\n\nAnswer in French.');
  });

  it('keeps the history in order', () => {
    const history = [
      row({ role: 'user', content: 'u1' }),
      row({ role: 'assistant', content: 'a1' }),
      row({ role: 'system', content: 'note' }),
      row({ role: 'user', content: 'u2' }),
    ];
    const messages = buildPrompt({ systemPrompt: 'S', sessionId: 's', turnSystem: [], history });
    expect(messages.slice(1)).toEqual([
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
      { role: 'system', content: 'note' },
      { role: 'user', content: 'u2' },
    ]);
  });

  it('keeps answered tool calls with their results', () => {
    const history = [
      row({ role: 'user', content: 'find x' }),
      row({ role: 'assistant', content: '', tool_calls: [call('c1')] }),
      row({ role: 'tool', content: '{"hits":[]}', tool_call_id: 'c1' }),
      row({ role: 'assistant', content: 'nothing found' }),
    ];
    expect(
      buildPrompt({ systemPrompt: 'S', sessionId: 's', turnSystem: [], history }).slice(1),
    ).toEqual([
      { role: 'user', content: 'find x' },
      { role: 'assistant', content: null, tool_calls: [call('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: '{"hits":[]}' },
      { role: 'assistant', content: 'nothing found' },
    ]);
  });

  it('drops tool calls whose results never arrived (an interrupted turn), keeping the answered ones', () => {
    const history = [
      row({ role: 'user', content: 'find x and y' }),
      row({ role: 'assistant', content: 'Looking', tool_calls: [call('c1'), call('c2')] }),
      row({ role: 'tool', content: 'r1', tool_call_id: 'c1' }),
      row({ role: 'user', content: 'never mind' }),
    ];
    const messages = buildPrompt({
      systemPrompt: 'S',
      sessionId: 's',
      turnSystem: [],
      history,
    }).slice(1);
    expect(messages).toEqual([
      { role: 'user', content: 'find x and y' },
      { role: 'assistant', content: 'Looking', tool_calls: [call('c1')] },
      { role: 'tool', tool_call_id: 'c1', content: 'r1' },
      { role: 'user', content: 'never mind' },
    ]);
  });

  it('drops an assistant message made only of unanswered tool calls, but keeps one with text as plain text', () => {
    const history = [
      row({ role: 'user', content: 'q1' }),
      row({ role: 'assistant', content: '', tool_calls: [call('lost-1')] }),
      row({ role: 'user', content: 'q2' }),
      row({
        role: 'assistant',
        content: 'partial answer',
        tool_calls: [call('lost-2')],
        status: 'incomplete',
        incomplete_reason: 'interrupted',
      }),
      row({ role: 'user', content: 'q3' }),
    ];
    const messages = buildPrompt({
      systemPrompt: 'S',
      sessionId: 's',
      turnSystem: [],
      history,
    }).slice(1);
    expect(messages).toEqual([
      { role: 'user', content: 'q1' },
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: 'partial answer' },
      { role: 'user', content: 'q3' },
    ]);
    // Every tool message the provider sees answers a call it has seen, and vice versa.
    const requested = messages.flatMap((m) =>
      'tool_calls' in m && m.tool_calls ? m.tool_calls.map((c) => c.id) : [],
    );
    const answered = messages.flatMap((m) => (m.role === 'tool' ? [m.tool_call_id] : []));
    expect(answered.sort()).toEqual(requested.sort());
  });

  it('drops tool results whose call is not in the history', () => {
    const history = [
      row({ role: 'user', content: 'q' }),
      row({ role: 'tool', content: 'orphan', tool_call_id: 'ghost' }),
    ];
    expect(
      buildPrompt({ systemPrompt: 'S', sessionId: 's', turnSystem: [], history }).slice(1),
    ).toEqual([{ role: 'user', content: 'q' }]);
  });

  it('skips empty assistant messages (an interrupted turn that produced no text)', () => {
    const history = [
      row({ role: 'user', content: 'q' }),
      row({ role: 'assistant', content: '', status: 'incomplete', incomplete_reason: 'cancelled' }),
    ];
    expect(
      buildPrompt({ systemPrompt: 'S', sessionId: 's', turnSystem: [], history }).slice(1),
    ).toEqual([{ role: 'user', content: 'q' }]);
  });
});
