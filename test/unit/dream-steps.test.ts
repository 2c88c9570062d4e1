import type OpenAI from 'openai';
import { packPages, segmentEpisodes, type MessageMeta } from '../../src/dreaming/episodes';
import { runJsonStep } from '../../src/dreaming/json-step';
import { MOMENTS_SYSTEM, PROFILE_SYSTEM } from '../../src/dreaming/prompts';
import { MomentsAnswer, ProfileAnswer } from '../../src/dreaming/schemas';
import { simulatedDreamAnswer } from '../../src/dreaming/simulated-answers';
import type { ModelTarget } from '../../src/providers/model-router';

/** A model target answering with the given contents in turn, recording what it was sent. */
function scripted(...answers: string[]) {
  const requests: { messages: { role: string; content: string }[] }[] = [];
  const client = {
    chat: {
      completions: {
        create: (body: { messages: { role: string; content: string }[] }) => {
          requests.push({ messages: body.messages.map((m) => ({ ...m })) });
          const content = answers.shift() ?? '';
          return Promise.resolve({
            choices: [{ message: { content } }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          });
        },
      },
    },
  } as unknown as OpenAI;
  const target: ModelTarget = { provider: 'primary', model: 'm', client, timeoutMs: 1000 };
  return { chain: [target], requests };
}

const VALID = JSON.stringify({
  moments: [{ episode: 'e1', title: 'T', summary: 'S', topics: ['a'], entities: [] }],
  facts: [],
});

describe('dreaming model steps', () => {
  it('accepts a valid answer (also inside a code fence)', async () => {
    const { chain } = scripted('```json\n' + VALID + '\n```');
    const result = await runJsonStep(chain, {
      system: MOMENTS_SYSTEM,
      user: {},
      schema: MomentsAnswer,
    });
    expect(result.value?.moments[0].title).toBe('T');
    expect(result.calls).toBe(1);
    expect(result.warnings).toEqual([]);
  });

  it('retries an invalid answer with the validation error, then accepts the fix', async () => {
    const { chain, requests } = scripted(JSON.stringify({ moments: [{ episode: 'e1' }] }), VALID);
    const calls: number[] = [];
    const result = await runJsonStep(chain, {
      system: MOMENTS_SYSTEM,
      user: {},
      schema: MomentsAnswer,
      onCall: (u) => void calls.push(u.total_tokens),
    });
    expect(result.value).toBeDefined();
    expect(result.calls).toBe(2);
    expect(calls).toEqual([15, 15]);
    const correction = requests[1].messages.at(-1)!;
    expect(correction.role).toBe('user');
    expect(correction.content).toMatch(/moments\.0\.title/);
    expect(result.warnings).toHaveLength(1);
  });

  it('gives up without throwing after the last invalid answer', async () => {
    const { chain } = scripted('not json at all', '{"moments": "nope"}');
    const result = await runJsonStep(chain, {
      system: MOMENTS_SYSTEM,
      user: {},
      schema: MomentsAnswer,
    });
    expect(result.value).toBeUndefined();
    expect(result.warnings).toHaveLength(2);
    expect(result.usage.total_tokens).toBe(30);
  });

  it('cuts episodes at pauses and size, and never splits one across pages', () => {
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    const metas: MessageMeta[] = [];
    for (let i = 0; i < 120; i++)
      metas.push({
        id: `a${String(i).padStart(3, '0')}`,
        session_id: 'a',
        created_at: new Date(t0 + i * 60_000),
        chars: 10,
      });
    // Session b: two stretches an hour apart.
    for (let i = 0; i < 10; i++)
      metas.push({
        id: `b${i}`,
        session_id: 'b',
        created_at: new Date(t0 + (i < 5 ? i : 60 + i) * 60_000),
        chars: 10,
      });
    const episodes = segmentEpisodes(metas.reverse(), { maxEpisodeMessages: 50 });
    expect(episodes.map((e) => e.message_ids.length).sort((x, y) => x - y)).toEqual([
      5, 5, 20, 50, 50,
    ]);
    const pages = packPages(episodes, { maxPageMessages: 100 });
    expect(pages.every((p) => p.messageCount <= 100)).toBe(true);
    expect(pages.reduce((n, p) => n + p.messageCount, 0)).toBe(130);
    expect(segmentEpisodes([...metas].reverse(), { maxEpisodeMessages: 50 })).toEqual(episodes);
  });

  it('simulates valid, deterministic moments and profiles', () => {
    const input = JSON.stringify({
      episodes: [
        {
          episode: 'e1',
          messages: [
            {
              id: 'm1',
              role: 'user',
              content: 'I prefer Postgres for Reverie. Postgres indexes matter.',
            },
          ],
        },
      ],
    });
    const moments = MomentsAnswer.parse(simulatedDreamAnswer(MOMENTS_SYSTEM, input));
    expect(moments.moments[0].entities).toContain('Postgres');
    expect(moments.facts[0].content).toMatch(/I prefer Postgres/);
    expect(simulatedDreamAnswer(MOMENTS_SYSTEM, input)).toEqual(
      simulatedDreamAnswer(MOMENTS_SYSTEM, input),
    );
    const profile = ProfileAnswer.parse(
      simulatedDreamAnswer(
        PROFILE_SYSTEM,
        JSON.stringify({
          moments: [{ id: 'x', title: 'T', topics: ['postgres'], entities: ['Reverie'] }],
          memories: [],
        }),
      ),
    );
    expect(profile.current_projects[0]).toMatchObject({ name: 'Reverie', evidence: ['x'] });
    expect(simulatedDreamAnswer('You are reverie', input)).toBeUndefined();
  });
});
