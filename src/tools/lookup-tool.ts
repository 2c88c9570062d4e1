import { z } from 'zod';
import type { Pool } from '../db/pool';
import { getMessage } from '../db/messages';
import { getRun } from '../db/runs';
import { getSession } from '../db/sessions';
import { many, maybeOne } from '../db/sql';
import { getMemoryAnyVersion, memoryHistory } from '../memory/memory-store';
import type { ToolDefinition } from './tool-registry';

const LookupArgs = z.object({
  id: z.union([z.string().uuid(), z.string().regex(/^user:.{1,256}$/)]),
});

/**
 * `lookup`: the full record behind an id the model has seen (a message whose
 * text was shortened, a session, a run). Scoped to the caller's tenant.
 */
export function createLookupTool(pool: Pool): ToolDefinition {
  return {
    name: 'lookup',
    description:
      'Look up the full content of a message, session, run or memory by its id (for example an id from a "[... truncated — lookup message <id> ...]" hint), or the user\'s profile with "user:<user id>".',
    parameters: {
      type: 'object',
      properties: { id: { type: 'string', description: 'the uuid to look up' } },
      required: ['id'],
      additionalProperties: false,
    },
    async execute(args, context) {
      const { id } = LookupArgs.parse(args);
      if (id.startsWith('user:')) return lookupProfile(pool, context, id.slice('user:'.length));
      const message = await getMessage(pool, context.tenantId, id);
      if (message) {
        return {
          type: 'message',
          id,
          role: message.role,
          content: message.content,
          created_at: message.created_at,
        };
      }
      const session = await getSession(pool, context.tenantId, id);
      if (session) {
        const counts = await many<{ role: string; n: number }>(
          pool,
          'select role, count(*)::int as n from messages where session_id = $1 group by role',
          [id],
        );
        return {
          type: 'session',
          id,
          title: session.title,
          created_at: session.created_at,
          messages: Object.fromEntries(counts.map((c) => [c.role, c.n])),
        };
      }
      const run = await getRun(pool, context.tenantId, id);
      if (run) return { type: 'run', id, kind: run.kind, status: run.status, usage: run.usage };
      const memory = await getMemoryAnyVersion(pool, context.tenantId, id);
      // Only the caller's own memories: never another user's, even in the same tenant.
      if (memory && memory.user_id === context.userId) {
        const history = await memoryHistory(pool, context.tenantId, memory.superseded_by ?? id);
        return {
          type: 'memory',
          id,
          content: memory.content,
          current: memory.valid_to === null,
          valid_from: memory.valid_from,
          valid_to: memory.valid_to,
          history: history.map((h) => ({
            event: h.event,
            previous: h.previous_content,
            content: h.content,
            at: h.created_at,
          })),
        };
      }
      return { type: 'not_found', id };
    },
  };
}

/** The caller's own user profile (the prompt offers it as `lookup user:<id>`). */
async function lookupProfile(
  pool: Pool,
  context: { tenantId: string; userId: string | null },
  userId: string,
) {
  if (userId !== context.userId) return { type: 'not_found', id: `user:${userId}` };
  const row = await maybeOne<{ profile: Record<string, unknown>; updated_at: Date }>(
    pool,
    'select profile, updated_at from user_profiles where tenant_id = $1 and user_id = $2',
    [context.tenantId, userId],
  );
  if (!row) return { type: 'not_found', id: `user:${userId}` };
  return {
    type: 'user_profile',
    user_id: userId,
    profile: row.profile,
    updated_at: row.updated_at,
  };
}
