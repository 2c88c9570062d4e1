import { storableJson } from '../../src/events/storable-json';

describe('storableJson', () => {
  it('replaces NUL and unpaired surrogates (what jsonb refuses) with U+FFFD', () => {
    const json = storableJson({ content: 'a\u0000b\uD83Dc\uDE00d', list: ['\uD800'] });
    expect(json).not.toMatch(/\\u0000|\\ud[89a-f]/i);
    expect(JSON.parse(json)).toEqual({ content: 'a\uFFFDb\uFFFDc\uFFFDd', list: ['\uFFFD'] });
  });

  it('leaves well-formed text, astral characters included, as JSON.stringify writes it', () => {
    const value = { content: 'plain 😀 \uFFFF "quoted" \\ done', n: 1, nested: { ok: true } };
    expect(storableJson(value)).toBe(JSON.stringify(value));
  });
});
