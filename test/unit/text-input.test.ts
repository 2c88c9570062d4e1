import { AppError } from '../../src/errors';
import { assertStorableText, findMalformedText, MAX_JSON_DEPTH } from '../../src/api/text-input';

describe('findMalformedText', () => {
  it('finds a NUL in a nested value and in an object key, with its path', () => {
    expect(findMalformedText({ a: [{ b: 'ok' }, { c: 'x\u0000' }] })).toEqual({
      path: ['a', 1, 'c'],
      reason: expect.stringMatching(/NUL/),
    });
    expect(findMalformedText({ meta: { 'k\u0000': 1 } })?.path).toEqual(['meta', 'k\u0000']);
  });

  it('finds unpaired surrogates but accepts proper pairs and U+FFFF', () => {
    expect(findMalformedText(['\uD800'])?.reason).toMatch(/surrogate/);
    expect(findMalformedText('x\uDFFF')?.reason).toMatch(/surrogate/);
    expect(findMalformedText({ t: '😀 \uFFFF \uFEFF' })).toBeUndefined();
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH, naming where, without overflowing the stack', () => {
    let deep: unknown = 'fine';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const found = findMalformedText({ metadata: deep });
    expect(found?.reason).toMatch(/64 levels/);
    expect(found?.path).toHaveLength(MAX_JSON_DEPTH);
    let allowed: unknown = 'fine';
    for (let i = 0; i < MAX_JSON_DEPTH; i++) allowed = { a: allowed };
    expect(findMalformedText(allowed)).toBeUndefined();
    expect(findMalformedText({ a: allowed })?.reason).toMatch(/levels deep/);
  });
});

describe('assertStorableText', () => {
  it('throws 400 invalid_request naming the field', () => {
    let error: unknown;
    try {
      assertStorableText({ title: 'a\u0000b' }, 'session');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: expect.stringContaining('session at title'),
      details: { issues: [{ path: 'title', code: 'invalid_string' }] },
    });
  });

  it('accepts non-string values and well-formed text', () => {
    expect(() => assertStorableText({ n: 1, b: true, z: null, s: 'fine' }, 'x')).not.toThrow();
    expect(() => assertStorableText(undefined, 'x')).not.toThrow();
  });
});
