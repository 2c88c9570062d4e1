import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { appendRunEvents } from '../src/events/event-log';
import { insertMessage } from '../src/db/messages';
import { maybeOne, one, withTransaction } from '../src/db/sql';
import { FailureType } from '../src/failure-types';
import { loadRun } from '../src/runs/load-run';
import { messageKey } from '../src/turns/message-keys';
import type { ActivityDeps } from './deps';
import { mapFailures } from './failure-mapping';

/** Tool results longer than this are shortened in the event (the message keeps all of it). */
const EVENT_RESULT_CHARS = 2000;

/** Runs the tools a model step asked for. */
export function createToolActivities({ pool, tools }: ActivityDeps) {
  return mapFailures({
    /**
     * Run tool call `index` of step `step` and store its result as a `tool`
     * message. Arguments are read from the stored assistant message (claim
     * check). A tool error becomes the result the model sees, not a failed turn.
     */
    async executeTool(input: { runId: string; step: number; index: number }): Promise<void> {
      const run = await loadRun(pool, input.runId);
      const sessionId = run.session_id!;
      const key = messageKey.tool(input.runId, input.step, input.index);
      if (
        await maybeOne(pool, 'select 1 from messages where session_id = $1 and idem_key = $2', [
          sessionId,
          key,
        ])
      ) {
        return; // done by an earlier attempt
      }
      const assistant = await one<{
        tool_calls: { id: string; function: { name: string; arguments: string } }[];
      }>(pool, 'select tool_calls from messages where session_id = $1 and idem_key = $2', [
        sessionId,
        messageKey.assistant(input.runId, input.step),
      ]);
      const call = assistant.tool_calls?.[input.index];
      if (!call)
        throw ApplicationFailure.nonRetryable(
          `no tool call ${input.index} in step ${input.step}`,
          FailureType.InvalidTurn,
        );

      const tool = tools.get(call.function.name);
      let result: unknown;
      let status: 'completed' | 'failed' = 'completed';
      try {
        if (!tool) throw new Error(`unknown tool ${call.function.name}`);
        result = await tool.execute(JSON.parse(call.function.arguments || '{}'), {
          tenantId: run.tenant_id,
          sessionId,
          runId: run.id,
          userId: run.user_id,
        });
      } catch (err) {
        status = 'failed';
        result = { error: err instanceof Error ? err.message : String(err) };
      }
      const content = JSON.stringify(result);
      await withTransaction(pool, async (tx) => {
        const id = randomUUID();
        const stored = await insertMessage(tx, {
          id,
          tenantId: run.tenant_id,
          sessionId,
          runId: run.id,
          role: 'tool',
          content,
          toolCallId: call.id,
          idemKey: key,
        });
        if (stored.id !== id) return; // a concurrent attempt stored it first
        await appendRunEvents(tx, run.id, [
          {
            type: 'tool_call',
            data: {
              id: call.id,
              tool_name: call.function.name,
              status,
              arguments: safeParse(call.function.arguments),
              result:
                content.length > EVENT_RESULT_CHARS
                  ? `${content.slice(0, EVENT_RESULT_CHARS)}…`
                  : result,
            },
          },
        ]);
      });
    },
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
