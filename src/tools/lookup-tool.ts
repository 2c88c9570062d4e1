import { z } from 'zod';
import type { Pool } from '../db/pool';
import { getMessage } from '../db/messages';
import { getRun } from '../db/runs';
import { getSession } from '../db/sessions';
import { many } from '../db/sql';
import type { ToolDefinition } from './tool-registry';

const LookupArgs = z.object({ id: z.string().uuid() });

/**
 * `lookup`: the full record behind an id the model has seen (a message whose
 * text was shortened, a session, a run). Scoped to the caller's tenant.
 */
export function createLookupTool(pool: Pool): ToolDefinition {
  return {
    name: 'lookup',
    description:
      'Look up the full content of a message, session or run by its id (for example an id from a "[... truncated — lookup message <id> ...]" hint).',
    parameters: {
      type: 'object',
      properties: { id: { type: 'string', description: 'the uuid to look up' } },
      required: ['id'],
      additionalProperties: false,
    },
    async execute(args, context) {
      const { id } = LookupArgs.parse(args);
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
      return { type: 'not_found', id };
    },
  };
}
