/** What the simulator reads from an OpenAI chat-completions request body. */

/** Name of the platform tool the simulator calls when it sees a session id. */
export const LOOKUP_TOOL = 'lookup';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
  tool_call_id?: string;
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { type?: string; function?: { name?: string } }[];
}

/** The facts of a conversation the script depends on. */
export interface Conversation {
  messages: ChatMessage[];
  lastRole: string;
  lastUser: string;
  firstUser: string;
  userTurns: number;
  /** The session uuid named in the system prompt, if any. */
  sessionId?: string;
  canLookup: boolean;
  /** Set when the last message is a tool result. */
  toolResult?: { id: string; content: string };
}

export function readConversation(request: ChatRequest): Conversation {
  const messages = request.messages;
  const users = messages.filter((m) => m.role === 'user').map((m) => contentText(m.content));
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => contentText(m.content))
    .join('\n');
  // Prefer the id the platform labels `Session:`; any uuid will do otherwise.
  const sessionId = (
    /Session:\s*([0-9a-f-]{36})/i.exec(system)?.[1] ?? UUID.exec(system)?.[0]
  )?.toLowerCase();
  const last = messages[messages.length - 1];
  const conversation: Conversation = {
    messages,
    lastRole: last?.role ?? 'user',
    lastUser: users[users.length - 1] ?? '',
    firstUser: users[0] ?? '',
    userTurns: users.length,
    sessionId,
    canLookup: (request.tools ?? []).some((t) => t.function?.name === LOOKUP_TOOL),
  };
  if (last?.role === 'tool')
    conversation.toolResult = {
      id: lookedUpId(messages, last.tool_call_id) ?? sessionId ?? 'unknown',
      content: contentText(last.content),
    };
  return conversation;
}

/** The `id` argument of the assistant tool call that the tool message answers. */
function lookedUpId(messages: ChatMessage[], toolCallId: string | undefined): string | undefined {
  for (const message of [...messages].reverse()) {
    const call =
      message.tool_calls?.find((c) => c.id === toolCallId) ??
      message.tool_calls?.find((c) => c.function?.name === LOOKUP_TOOL);
    if (!call) continue;
    try {
      const args = JSON.parse(call.function?.arguments ?? '{}') as { id?: unknown };
      return typeof args.id === 'string' ? args.id : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: unknown }) =>
      part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

/** The system prompt's text (memory calls are recognised by a marker in it). */
export function systemText(request: ChatRequest): string {
  return request.messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => contentText(m.content))
    .join('\n');
}
