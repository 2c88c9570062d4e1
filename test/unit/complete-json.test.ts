import type OpenAI from 'openai';
import { z } from 'zod';
import {
  completeJson,
  ModelOutputError,
  validValue,
  type JsonCompletionRequest,
} from '../../src/providers/complete-json';
import type { ModelTarget } from '../../src/providers/model-router';
import { ProviderError } from '../../src/providers/provider-error';

/** A provider whose one call answers `content` (with `usage`) or throws `fail`. */
function target(
  provider: string,
  answer: { content?: string; usage?: object; fail?: Error },
  seen: unknown[] = [],
): ModelTarget {
  const create = (body: unknown) => {
    seen.push(body);
    if (answer.fail) return Promise.reject(answer.fail);
    return Promise.resolve({
      choices: [{ message: { content: answer.content } }],
      usage: answer.usage,
    });
  };
  return {
    provider,
    model: `${provider}-model`,
    timeoutMs: 1000,
    client: { chat: { completions: { create } } } as unknown as OpenAI,
  };
}

const Answer = z.object({ n: z.number() });
const USAGE = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

function request(
  extra: Partial<JsonCompletionRequest<typeof Answer>> = {},
): JsonCompletionRequest<typeof Answer> {
  return {
    messages: [
      { role: 'system', content: 'count' },
      { role: 'user', content: 'one' },
    ],
    format: { type: 'json_object' },
    schema: Answer,
    ...extra,
  };
}

describe('completeJson', () => {
  it('fails over on a retryable error and answers from the next provider', async () => {
    const seen: unknown[] = [];
    const res = await completeJson(
      [
        target('primary', { fail: new ProviderError('primary: 503', true, 503) }),
        target('fallback-1', { content: '{"n": 1}', usage: USAGE }, seen),
      ],
      request(),
    );
    expect(res).toEqual({
      content: '{"n": 1}',
      verdict: { ok: true, value: { n: 1 } },
      usage: USAGE,
      provider: 'fallback-1',
      model: 'fallback-1-model',
    });
    expect(seen[0]).toMatchObject({ temperature: 0, response_format: { type: 'json_object' } });
  });

  it('throws a non-retryable failure at once, and the last one when every provider failed', async () => {
    const never = target('fallback-1', { content: '{"n": 1}' });
    await expect(
      completeJson(
        [target('primary', { fail: new ProviderError('primary: 401', false, 401) }), never],
        request(),
      ),
    ).rejects.toThrow('primary: 401');
    await expect(
      completeJson(
        [
          target('primary', { fail: new ProviderError('primary: 503', true, 503) }),
          target('fallback-1', { fail: new ProviderError('fallback-1: 429', true, 429) }),
        ],
        request(),
      ),
    ).rejects.toThrow('fallback-1: 429');
    await expect(completeJson([], request())).rejects.toThrow('no provider configured');
  });

  it('asks for a strict JSON schema when given one', async () => {
    const seen: unknown[] = [];
    await completeJson([target('primary', { content: '{"n": 1}' }, seen)], {
      ...request(),
      format: { type: 'json_schema', name: 'count', schema: { type: 'object' } },
    });
    expect(seen[0]).toMatchObject({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'count', schema: { type: 'object' }, strict: true },
      },
    });
  });

  it('parses fenced JSON, and judges prose and other shapes without throwing', async () => {
    const ask = (content: string) => completeJson([target('p', { content })], request());
    expect((await ask('Here:\n```json\n{"n": 2}\n```')).verdict).toEqual({
      ok: true,
      value: { n: 2 },
    });
    expect((await ask('no idea')).verdict).toEqual({ ok: false, reason: 'not_json' });
    expect((await ask('{"n": }')).verdict).toEqual({ ok: false, reason: 'not_json' });
    const wrong = (await ask('{"n": "two"}')).verdict;
    expect(wrong).toMatchObject({ ok: false, reason: 'wrong_shape', issues: [{ path: ['n'] }] });
  });

  it('estimates missing usage by default, or counts zeros when asked', async () => {
    const chain = [target('p', { content: '{"n": 1}' })];
    expect((await completeJson(chain, request())).usage).toEqual({
      prompt_tokens: 2,
      completion_tokens: 2,
      total_tokens: 4,
    });
    expect((await completeJson(chain, request({ missingUsage: 'zero' }))).usage).toEqual({
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
    });
  });
});

describe('validValue', () => {
  it('returns the value or throws a ModelOutputError saying how the answer missed', async () => {
    const ask = async (content: string) =>
      validValue(await completeJson([target('primary', { content })], request()), 'count');
    await expect(ask('{"n": 3}')).resolves.toEqual({ n: 3 });
    await expect(ask('  sorry, I cannot  ')).rejects.toThrow(
      new ModelOutputError('the model did not answer with JSON: "sorry, I cannot"'),
    );
    await expect(ask('{"n": "x"}')).rejects.toBeInstanceOf(ModelOutputError);
    await expect(ask('{"n": "x"}')).rejects.toThrow(
      /^primary answered count with JSON of another shape: /,
    );
  });
});
