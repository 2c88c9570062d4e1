import { randomUUID } from 'node:crypto';
import type { MessageRow } from '../../src/db/messages';
import {
  compressHistory,
  shortenText,
  truncationHint,
  type CompressionOptions,
} from '../../src/prompt/compress-history';
import { countMessageTokens, promptBudget } from '../../src/prompt/token-count';

let seq = 0;
function row(
  role: MessageRow['role'],
  content: string,
  extra: Partial<MessageRow> = {},
): MessageRow {
  return {
    id: randomUUID(),
    tenant_id: 't',
    session_id: 's',
    run_id: extra.run_id ?? randomUUID(),
    seq: ++seq,
    role,
    content,
    tool_calls: null,
    tool_call_id: null,
    status: 'completed',
    incomplete_reason: null,
    usage: null,
    idem_key: null,
    created_at: new Date(0),
    ...extra,
  };
}

const words = (n: number, seed = 'word') =>
  Array.from({ length: n }, (_, i) => `${seed}${i}`).join(' ');

const options: CompressionOptions = {
  model: 'gpt-4o-mini',
  sessionId: 's',
  recentMessages: 4,
  messageMaxChars: 400,
  recentMaxChars: 4000,
  budgetTokens: 100_000,
};

describe('shortenText', () => {
  it('keeps head and tail around the lookup hint, cut at words', () => {
    const text = words(300);
    const short = shortenText(text, 'abc', 400);
    expect(short).toContain(truncationHint('abc'));
    expect(short.length).toBeLessThanOrEqual(410);
    expect(short.startsWith('word0 word1')).toBe(true);
    expect(short.endsWith('word299')).toBe(true);
    // No word is cut in half.
    for (const w of short.replace(truncationHint('abc'), '').split(/\s+/).filter(Boolean))
      expect(w).toMatch(/^word\d+$/);
  });

  it('leaves short text alone', () => {
    expect(shortenText('hello', 'abc', 400)).toBe('hello');
  });
});

describe('compressHistory', () => {
  it('shortens old long messages, keeps recent and short ones whole', () => {
    const long = words(200, 'old');
    const history = [
      row('user', long),
      row('assistant', long),
      row('user', 'short'),
      row('user', 'a'),
      row('assistant', long),
      row('user', 'now'),
    ];
    const result = compressHistory(history, options);
    const contents = result.messages.map((m) => m.content as string);
    expect(contents[0]).toContain(truncationHint(history[0].id));
    expect(contents[1]).toContain(truncationHint(history[1].id));
    expect(contents[2]).toBe('short');
    // Within the recent window: whole.
    expect(contents[4]).toBe(long);
    expect(result.entries.filter((e) => e.truncated).map((e) => e.id)).toEqual([
      history[0].id,
      history[1].id,
    ]);
    expect(result.omitted).toBe(0);
  });

  it('never shortens the running turn, even when old', () => {
    const runId = randomUUID();
    const long = words(300, 'tool');
    const history = [
      row('user', 'question', { run_id: runId }),
      row('assistant', 'x'),
      row('assistant', 'y'),
      row('assistant', 'z'),
      row('assistant', 'w'),
      row('user', long, { run_id: runId }),
    ];
    const result = compressHistory(history, { ...options, currentRunId: runId, recentMessages: 0 });
    expect(result.messages.map((m) => m.content)).toContain(long);
  });

  it('drops tool calls whose results never arrived, keeps answered ones with their results', () => {
    const answered = {
      id: 'call_1',
      type: 'function' as const,
      function: { name: 'lookup', arguments: '{}' },
    };
    const dangling = {
      id: 'call_2',
      type: 'function' as const,
      function: { name: 'lookup', arguments: '{}' },
    };
    const history = [
      row('user', 'q'),
      row('assistant', '', { tool_calls: [answered, dangling] }),
      row('tool', 'result', { tool_call_id: 'call_1' }),
      row('assistant', 'done'),
    ];
    const result = compressHistory(history, options);
    expect(result.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [answered] });
    expect(result.messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_1' });
  });

  it('fits a 500-message session into the budget, dropping whole turns from the start', () => {
    const history: MessageRow[] = [];
    for (let i = 0; i < 250; i++) {
      history.push(row('user', `question ${i}: ${words(40, `q${i}_`)}`));
      history.push(row('assistant', `answer ${i}: ${words(150, `a${i}_`)}`));
    }
    const runId = randomUUID();
    history.push(row('user', 'the current question', { run_id: runId }));
    expect(history.length).toBe(501);
    const budget = 4000;
    const result = compressHistory(history, {
      ...options,
      currentRunId: runId,
      budgetTokens: budget,
    });
    const counted = result.messages.reduce((n, m) => n + countMessageTokens(m, options.model), 0);
    expect(counted).toBe(result.tokens);
    expect(counted).toBeLessThanOrEqual(budget);
    expect(result.overBudget).toBe(false);
    expect(result.omitted).toBeGreaterThan(0);
    // The note comes first, then a user message starts the kept history; the current question is last.
    expect(result.messages[0]).toMatchObject({ role: 'system' });
    expect(result.messages[0].content).toContain(`${result.omitted} earlier messages`);
    expect(result.messages[1].role).toBe('user');
    expect(result.messages[result.messages.length - 1].content).toBe('the current question');
  });

  it('reports over budget when the running turn alone cannot fit', () => {
    const runId = randomUUID();
    const result = compressHistory([row('user', words(2000), { run_id: runId })], {
      ...options,
      currentRunId: runId,
      budgetTokens: 20,
    });
    // Shortened as a last resort, with its lookup hint.
    expect(result.messages[0].content).toContain('truncated — lookup message');
    expect(result.overBudget).toBe(true);
  });
});

describe('promptBudget', () => {
  it('is the configured budget, lowered to the model context window minus the answer', () => {
    expect(promptBudget('gpt-4o-mini', 16_000)).toBe(16_000);
    expect(promptBudget('gpt-4', 16_000, 1000)).toBe(7192);
    expect(promptBudget('unknown-model', 9000)).toBe(9000);
  });
});
