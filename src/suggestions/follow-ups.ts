import { z } from 'zod';
import type { MessageRow } from '../db/messages';
import { completeJson, validValue } from '../providers/complete-json';
import type { ModelRouter } from '../providers/model-router';

/** Recognised by the simulator, which answers it deterministically. */
export const SUGGESTIONS_MARKER = '[reverie:suggestions]';

const Suggestions = z.object({ questions: z.array(z.string().trim().min(1).max(300)).min(1) });

const SUGGESTIONS_SCHEMA = {
  type: 'object',
  properties: { questions: { type: 'array', items: { type: 'string' } } },
  required: ['questions'],
  additionalProperties: false,
};

/** How much of the conversation the model sees to suggest what comes next. */
const RECENT_MESSAGES = 8;
const MESSAGE_CHARS = 1500;

/**
 * Three follow-up questions the user might ask next, from the model. Not a
 * turn: nothing is stored, so it is a plain provider call, not a workflow.
 */
export async function suggestFollowUps(
  models: ModelRouter,
  model: string,
  history: MessageRow[],
): Promise<string[]> {
  const transcript = history
    .filter((m) => (m.role === 'user' || m.role === 'assistant') && m.content)
    .slice(-RECENT_MESSAGES)
    .map((m) => `${m.role}: ${m.content.slice(0, MESSAGE_CHARS)}`)
    .join('\n\n');
  if (!transcript) return [];
  const res = await completeJson(models.chainFor(model), {
    messages: [
      {
        role: 'system',
        content: `${SUGGESTIONS_MARKER}\nSuggest exactly 3 short follow-up questions the user might ask next in this conversation, in the user's language.`,
      },
      { role: 'user', content: transcript },
    ],
    format: { type: 'json_schema', name: 'follow_up_questions', schema: SUGGESTIONS_SCHEMA },
    schema: Suggestions,
    missingUsage: 'zero',
  });
  return validValue(res, 'follow_up_questions').questions.slice(0, 3);
}

/** The simulator's answer to a suggestions request: questions about the last user line. */
export function simulatedSuggestions(
  systemText: string,
  transcript: string,
): { questions: string[] } | undefined {
  if (!systemText.includes(SUGGESTIONS_MARKER)) return undefined;
  const lastUser =
    transcript
      .split('\n\n')
      .filter((l) => l.startsWith('user: '))
      .at(-1) ?? '';
  const topic = (lastUser.slice(6).match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 6).join(' ') || 'this';
  return {
    questions: [
      `Can you explain more about ${topic}?`,
      `What are the trade-offs of ${topic}?`,
      `Could you give an example of ${topic}?`,
    ],
  };
}
