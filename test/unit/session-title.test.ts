import { SESSION_TITLE_MAX_CHARS, sessionTitle } from '../../src/turns/session-title';

describe('sessionTitle', () => {
  it('keeps a short message whole, without trailing punctuation', () => {
    expect(sessionTitle('  Capital of   France?\n')).toBe('Capital of France');
  });

  it('cuts a long message at a word boundary and marks the cut', () => {
    const title = sessionTitle(
      'I want to plan a week-long trip to Lisbon in spring, with good food and some sailing',
    )!;
    expect(title).toBe('I want to plan a week-long trip to Lisbon in spring, with…');
    expect(title.length).toBeLessThanOrEqual(SESSION_TITLE_MAX_CHARS + 1);
  });

  it('cuts one overlong word mid-word rather than dropping it', () => {
    expect(sessionTitle('x'.repeat(200))).toBe(`${'x'.repeat(SESSION_TITLE_MAX_CHARS)}…`);
  });

  it('gives no title for a message without text', () => {
    expect(sessionTitle(' \n\t ')).toBeUndefined();
  });

  it('keeps a message that is only punctuation', () => {
    expect(sessionTitle('?!')).toBe('?!');
  });
});
