import Router from '@koa/router';
import { z } from 'zod';
import { FINISHED_STATUSES, getRun, type RunRow } from '../../db/runs';
import { getMessage } from '../../db/messages';
import { AppError, InvalidRequestError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { checkConcurrentTurns } from '../../limits/concurrent-turns';
import {
  callerUserId,
  headerText,
  idempotencyKey,
  sessionIdHeader,
  wantsExtendedEvents,
} from '../identity';
import { OpenAIChunkRenderer } from '../render/openai-chunks';
import { pipeRunEvents } from '../render/run-stream';
import { modelNotFound, servedModel } from '../served-model';
import { parseInput, requestBody } from '../validation';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const Content = z.union([z.string(), z.array(TextPart), z.null()]);

const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: Content.optional(),
  name: z.string().optional(),
  tool_calls: z.array(z.unknown()).optional(),
  tool_call_id: z.string().optional(),
});

export const ChatCompletionBody = z.object({
  model: z.string().min(1).max(200),
  messages: z.array(Message).min(1, 'messages must not be empty'),
  stream: z.boolean().optional(),
  stream_options: z
    .object({ include_usage: z.boolean().optional(), include_events: z.boolean().optional() })
    .nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  tools: z.array(z.unknown()).optional(),
  tool_choice: z.unknown().optional(),
  user: z.string().optional(),
  user_id: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  multitask_strategy: z.enum(['reject', 'enqueue', 'interrupt']).optional(),
});

type Body = z.infer<typeof ChatCompletionBody>;

function text(content: z.infer<typeof Content> | undefined): string {
  if (content === undefined || content === null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/**
 * Split an OpenAI `messages` array: the trailing user messages after the last
 * assistant message are the new turn; system messages apply to this turn; the
 * rest is history (used only to seed a new session).
 */
export function splitConversation(messages: Body['messages']) {
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map((m) => text(m.content));
  const rest = messages.filter((m) => m.role !== 'system' && m.role !== 'developer');
  let start = rest.length;
  while (start > 0 && rest[start - 1].role === 'user') start--;
  const turn = rest.slice(start).map((m) => ({ role: 'user' as const, content: text(m.content) }));
  const history = rest
    .slice(0, start)
    .filter((m) => (m.role === 'user' || m.role === 'assistant') && text(m.content) !== '')
    .map((m) => ({ role: m.role as 'user' | 'assistant', content: text(m.content) }));
  return { system, turn, history };
}

/** `POST /chat/completions`: OpenAI-compatible, every call a durable turn. */
export function chatCompletionsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();
  route(
    router,
    {
      method: 'post',
      path: '/chat/completions',
      scope: 'chat',
      body: ChatCompletionBody,
      sse: true,
    },
    async (ctx: ApiContext) => {
      const body = parseInput(ChatCompletionBody, requestBody(ctx), 'chat completion request');
      const maxMessages = deps.config.security.chatMaxMessages;
      if (body.messages.length > maxMessages)
        throw new InvalidRequestError(`messages may hold at most ${maxMessages} entries`, {
          issues: [{ path: 'messages', message: `at most ${maxMessages}`, code: 'too_big' }],
        });
      const { system, turn, history } = splitConversation(body.messages);
      if (turn.length === 0 || turn.every((m) => m.content.trim() === '')) {
        throw new InvalidRequestError('the conversation must end with a non-empty user message');
      }
      const sessionId = sessionIdHeader(ctx);
      const extended = wantsExtendedEvents(ctx, body.stream_options?.include_events);
      const userId = callerUserId(ctx, body);
      // Before the session or run exists: a model nothing serves stores nothing.
      const model = servedModel(deps.models, body.model);
      const started = Date.now();
      const { run, sessionId: sid } = await deps.turns.start({
        tenantId: ctx.state.principal.tenantId,
        userId,
        sessionId,
        seedHistory: history,
        input: {
          messages: turn,
          system,
          temperature: body.temperature ?? undefined,
          max_tokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
          agent: headerText(ctx, 'X-Agent-Schema') || 'default',
        },
        model,
        strategy: body.multitask_strategy ?? 'enqueue',
        idempotencyKey: idempotencyKey(ctx),
        requestFingerprint: { route: 'chat.completions', sessionId, body },
        admit: (tx) =>
          checkConcurrentTurns(tx, deps.config.rateLimits, ctx.state.principal, userId),
      });
      deps.metrics.turnsStarted.inc();
      const headers = {
        'X-Run-Id': run.id,
        'X-Session-Id': sid,
        Location: `/v1/runs/${run.id}`,
      };
      const created = Math.floor(run.created_at.getTime() / 1000);

      if (body.stream) {
        const renderer = new OpenAIChunkRenderer({
          runId: run.id,
          model,
          created,
          includeUsage: body.stream_options?.include_usage ?? false,
          extended,
        });
        await pipeRunEvents(ctx, deps, {
          run,
          afterSeq: 0,
          headers,
          render: (event) => renderer.render(event),
          onFirstText: () => deps.metrics.ttft.observe((Date.now() - started) / 1000),
        });
        return;
      }

      const finished = await waitForRun(deps, run);
      ctx.set(headers);
      if (finished.status === 'failed' && finished.error?.code === 'model_not_found') {
        // The provider did not know the model: the same 404 as an unserved one.
        throw modelNotFound(deps.models, model, finished.error.message);
      }
      if (finished.status === 'failed') {
        throw new AppError(
          502,
          finished.error?.code ?? 'provider_error',
          finished.error?.message ?? 'the turn failed',
          { run_id: run.id },
          { expose: true },
        );
      }
      const message = finished.message_id
        ? await getMessage(deps.pool, finished.tenant_id, finished.message_id)
        : undefined;
      ctx.body = {
        id: `chatcmpl-${run.id}`,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: message?.content ?? '', refusal: null },
            finish_reason: message?.incomplete_reason === 'max_tokens' ? 'length' : 'stop',
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: finished.usage.prompt_tokens ?? 0,
          completion_tokens: finished.usage.completion_tokens ?? 0,
          total_tokens: finished.usage.total_tokens ?? 0,
        },
      };
    },
  );
  return router;
}

/**
 * Wait until the run has finished. Wakes on the run's event notifications and
 * reads only the run row (never the deltas): when a notified batch holds `done`
 * (committed with the final status) or did not say what it holds, and on a
 * poll as safety net.
 */
export async function waitForRun(
  deps: ApiDeps,
  run: RunRow,
  signal?: AbortSignal,
): Promise<RunRow> {
  if (FINISHED_STATUSES.includes(run.status)) return run;
  let current = run;
  let notified = false;
  let wake: (() => void) | undefined;
  // Subscribed before each read: a notification in between is never lost.
  const unsubscribe = deps.hub.subscribe(run.id, (events) => {
    if (events && !events.some((e) => e.type === 'done')) return;
    notified = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      notified = false;
      current = (await getRun(deps.pool, run.tenant_id, run.id)) ?? current;
      if (FINISHED_STATUSES.includes(current.status) || signal?.aborted) return current;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (notified || signal?.aborted) wake();
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}
