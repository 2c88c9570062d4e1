import type { MessageRow } from '../db/messages';
import type { ChatMessage } from '../providers/stream-chat';

export interface PromptInput {
  /** The agent's system prompt. */
  systemPrompt: string;
  sessionId: string;
  /** System messages sent with this turn; they apply to this turn only. */
  turnSystem: string[];
  history: MessageRow[];
}

/**
 * The messages a model step sees: system prompt, then the session history in
 * order. Tool calls whose results never arrived (an interrupted turn) are
 * dropped, because providers reject an assistant tool call without its result.
 */
export function buildPrompt(input: PromptInput): ChatMessage[] {
  const system = [input.systemPrompt, `Session: ${input.sessionId}`, ...input.turnSystem].join(
    '\n\n',
  );
  const answered = new Set(
    input.history.filter((m) => m.role === 'tool').map((m) => m.tool_call_id),
  );
  const requested = new Set<string>();
  const messages: ChatMessage[] = [{ role: 'system', content: system }];
  for (const m of input.history) {
    switch (m.role) {
      case 'system':
        messages.push({ role: 'system', content: m.content });
        break;
      case 'user':
        messages.push({ role: 'user', content: m.content });
        break;
      case 'assistant': {
        const calls = (m.tool_calls ?? []).filter((c) => answered.has(c.id));
        calls.forEach((c) => requested.add(c.id));
        if (calls.length > 0) {
          messages.push({ role: 'assistant', content: m.content || null, tool_calls: calls });
        } else if (m.content) {
          messages.push({ role: 'assistant', content: m.content });
        }
        break;
      }
      case 'tool':
        if (m.tool_call_id && requested.has(m.tool_call_id)) {
          messages.push({ role: 'tool', tool_call_id: m.tool_call_id, content: m.content });
        }
        break;
    }
  }
  return messages;
}
