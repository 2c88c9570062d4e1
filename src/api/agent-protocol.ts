import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sessionItems } from '../db/messages';
import { getSession, type SessionRow } from '../db/sessions';
import { NotFoundError } from '../errors';
import type { ApiContext, ApiDeps } from './context';
import { uuidParam } from './identity';
import { langGraphMessage, type LangGraphMessage } from './render/langgraph-json';
import type { PlainMessage } from './responses-input';

/**
 * What the Agent Protocol (LangGraph) façade shares between its routers:
 * assistants, the message form clients send, and loading a thread.
 */

/** The assistants served: one per agent; today the built-in `default`. */
const ASSISTANTS = [
  {
    name: 'default',
    description: 'reverie chat agent: durable turns with memory and file search',
  },
];

/** A name-based UUID for an assistant, stable across processes and releases. */
function assistantUuid(name: string): string {
  const h = createHash('sha1').update(`reverie:assistant:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const EPOCH = new Date('2026-01-01T00:00:00Z').toISOString();

export function assistantJson(a: (typeof ASSISTANTS)[number]) {
  return {
    assistant_id: assistantUuid(a.name),
    graph_id: a.name,
    name: a.name,
    description: a.description,
    config: {},
    context: {},
    metadata: { created_by: 'system' },
    version: 1,
    created_at: EPOCH,
    updated_at: EPOCH,
  };
}

export function listAssistants(graphId?: string) {
  return ASSISTANTS.filter((a) => !graphId || a.name === graphId);
}

/**
 * The assistant an id names: its UUID or its graph name (as LangGraph accepts).
 * @throws NotFoundError 404 for one not served here
 */
export function resolveAssistant(id: string | undefined) {
  const found = ASSISTANTS.find((a) => a.name === id || assistantUuid(a.name) === id);
  if (!found) throw new NotFoundError('assistant');
  return found;
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string().max(200_000) });

/** A message as LangGraph clients send it: LangChain's `{type}` or OpenAI's `{role}` form. */
export const LangGraphInputMessage = z
  .object({
    type: z.enum(['human', 'user', 'ai', 'assistant', 'system']).optional(),
    role: z.enum(['human', 'user', 'ai', 'assistant', 'system', 'developer']).optional(),
    content: z.union([z.string().max(200_000), z.array(TextBlock).max(100)]),
    id: z.string().max(200).optional(),
  })
  .refine((m) => m.type ?? m.role, 'a message needs a type or a role');
type InputMessage = z.infer<typeof LangGraphInputMessage>;

function plain(m: InputMessage): PlainMessage {
  const kind = m.type ?? m.role;
  const role =
    kind === 'human' || kind === 'user'
      ? 'user'
      : kind === 'system' || kind === 'developer'
        ? 'system'
        : 'assistant';
  const content = typeof m.content === 'string' ? m.content : m.content.map((b) => b.text).join('');
  return { role, content };
}

/**
 * Split a run's input messages: trailing human messages are the new turn,
 * system messages apply to it, and what comes before is history.
 */
export function splitMessages(messages: InputMessage[]) {
  const items = messages.map(plain);
  const system = items.filter((m) => m.role === 'system').map((m) => m.content);
  const rest = items.filter((m) => m.role !== 'system');
  let start = rest.length;
  while (start > 0 && rest[start - 1].role === 'user') start--;
  return {
    system,
    turn: rest.slice(start).map((m) => ({ role: 'user' as const, content: m.content })),
    history: rest.slice(0, start).filter((m) => m.content !== ''),
  };
}

/** The thread of the path (`:id`), in the caller's tenant (another tenant's is a 404). */
export async function loadThread(deps: ApiDeps, ctx: ApiContext): Promise<SessionRow> {
  const id = uuidParam((ctx.params as Record<string, string>).id, 'thread id', 'thread_id');
  const session = await getSession(deps.pool, ctx.state.principal.tenantId, id);
  if (!session) throw new NotFoundError('thread');
  return session;
}

/** A thread's messages in LangChain form (through one run's when given). */
export async function threadMessages(
  deps: ApiDeps,
  sessionId: string,
  throughRunId?: string,
): Promise<LangGraphMessage[]> {
  return (await sessionItems(deps.pool, sessionId, throughRunId)).map(langGraphMessage);
}
