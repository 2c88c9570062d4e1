import OpenAI from 'openai';
import { factHash, normaliseFact } from '../../src/memory/content-hash';
import { CONSOLIDATE_SYSTEM, EXTRACT_SYSTEM } from '../../src/memory/memory-prompts';
import { simulateMemoryCall } from '../../src/memory/simulated-memory-model';
import { createSimulatorFetch } from '../../src/providers/simulator';
import { SCRIPTED_RESPONDERS } from '../../src/scripted-responders';

describe('fact hash', () => {
  it('ignores case, spacing and trailing punctuation', () => {
    expect(normaliseFact('  I live   in Berlin. ')).toBe('i live in berlin');
    expect(factHash('I live in Berlin.')).toBe(factHash('i live in berlin'));
    expect(factHash('I live in Berlin')).not.toBe(factHash('I live in Munich'));
  });
});

describe('simulated memory model', () => {
  it('extracts first-person statements of user messages only', () => {
    const answer = simulateMemoryCall(
      EXTRACT_SYSTEM,
      JSON.stringify({
        messages: [
          {
            role: 'user',
            content: 'Hello there! I live in Berlin. My favourite food is ramen. What time is it?',
          },
          { role: 'assistant', content: 'I am a model. I live in the cloud.' },
          { role: 'user', content: 'Remember that my sister is called Ana' },
        ],
      }),
    );
    expect(answer).toEqual({
      facts: [
        { text: 'I live in Berlin', category: 'personal' },
        { text: 'My favourite food is ramen', category: 'preference' },
        { text: 'My sister is called Ana', category: 'personal' },
      ],
    });
  });

  it('updates a related memory, deletes it on a retraction, adds otherwise', () => {
    const decide = (text: string) =>
      simulateMemoryCall(
        CONSOLIDATE_SYSTEM,
        JSON.stringify({
          existing: [{ id: '0', text: 'I live in Berlin' }],
          facts: [{ index: 3, text }],
        }),
      );
    expect(decide('I live in Munich now')).toEqual({
      decisions: [{ fact: 3, event: 'UPDATE', id: '0', text: 'I live in Munich now' }],
    });
    expect(decide('I no longer live in Berlin')).toEqual({
      decisions: [{ fact: 3, event: 'DELETE', id: '0', text: null }],
    });
    expect(decide('I love pizza')).toEqual({
      decisions: [{ fact: 3, event: 'ADD', id: null, text: 'I love pizza' }],
    });
  });

  it('answers through the simulator endpoint as structured output', async () => {
    const client = new OpenAI({
      apiKey: 'x',
      baseURL: 'http://simulator.local/v1',
      fetch: createSimulatorFetch({ tokenDelayMs: 0, responders: SCRIPTED_RESPONDERS }),
    });
    const res = await client.chat.completions.create({
      model: 'simulator',
      messages: [
        { role: 'system', content: EXTRACT_SYSTEM },
        {
          role: 'user',
          content: JSON.stringify({
            messages: [{ role: 'user', content: 'I have a dog called Rex.' }],
          }),
        },
      ],
    });
    expect(JSON.parse(res.choices[0].message.content!)).toEqual({
      facts: [{ text: 'I have a dog called Rex', category: 'personal' }],
    });
  });
});
