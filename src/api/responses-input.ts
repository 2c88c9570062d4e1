import { z } from 'zod';

const TextPart = z.object({
  type: z.enum(['input_text', 'output_text', 'text']),
  text: z.string().max(200_000),
});

/**
 * A message item as the Responses and Conversations APIs take it: the easy
 * form `{role, content: string}` or `{type: 'message', role, content: [parts]}`.
 * Images, files and tool outputs are not taken yet (400 names the field).
 */
export const InputMessage = z.object({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string().max(200_000), z.array(TextPart).max(100)]),
});
export type InputMessage = z.infer<typeof InputMessage>;

export interface PlainMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

/** An item's role and text as our messages store them (`developer` is a system message). */
export function plainMessage(item: InputMessage): PlainMessage {
  const content =
    typeof item.content === 'string' ? item.content : item.content.map((p) => p.text).join('');
  return { role: item.role === 'developer' ? 'system' : item.role, content };
}

/**
 * Split a response's input: the trailing user messages are the new turn,
 * system messages apply to this turn, and what comes before is history.
 */
export function splitInput(input: string | InputMessage[]) {
  const items: PlainMessage[] =
    typeof input === 'string' ? [{ role: 'user', content: input }] : input.map(plainMessage);
  const system = items.filter((m) => m.role === 'system').map((m) => m.content);
  const rest = items.filter((m) => m.role !== 'system');
  let start = rest.length;
  while (start > 0 && rest[start - 1].role === 'user') start--;
  const turn = rest.slice(start).map((m) => ({ role: 'user' as const, content: m.content }));
  const history = rest.slice(0, start).filter((m) => m.content !== '');
  return { system, turn, history };
}
