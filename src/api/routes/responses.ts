import Router from '@koa/router';
import { z } from 'zod';
import { getMessage, historyThroughRun, messagesOfRun } from '../../db/messages';
import {
  deleteRun,
  FINISHED_STATUSES,
  getRun,
  listRuns,
  type ResponsesEcho,
  type RunRow,
} from '../../db/runs';
import { getSession } from '../../db/sessions';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../errors';
import { checkConcurrentTurns } from '../../limits/concurrent-turns';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { callerUserId, headerText, idempotencyKey, pathId } from '../identity';
import { parseProtocolId, protocolId } from '../protocol-ids';
import { ResponsesEventRenderer } from '../render/responses-events';
import { itemJson, itemPage, storedResponseJson } from '../render/responses-json';
import { pipeRunEvents } from '../render/run-stream';
import { InputMessage, splitInput, type PlainMessage } from '../responses-input';
import { route } from '../route-spec';
import { modelNotFound, servedModel } from '../served-model';
import { parseInput, requestBody } from '../validation';
import { waitForRun } from './chat-completions';

const ResponseBody = z.object({
  model: z.string().min(1).max(200).optional(),
  input: z.union([
    z.string().min(1, 'input must not be empty').max(200_000),
    z.array(InputMessage).min(1, 'input must not be empty').max(500),
  ]),
  instructions: z.string().max(50_000).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().max(100).nullish(),
  conversation: z.union([z.string().max(100), z.object({ id: z.string().max(100) })]).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
  user: z.string().max(256).optional(),
  tools: z
    .array(z.unknown())
    .max(0, 'tools are not taken on /v1/responses yet; an agent chooses its tools')
    .optional(),
  multitask_strategy: z.enum(['reject', 'enqueue', 'interrupt']).optional(),
});
type Body = z.infer<typeof ResponseBody>;

const RetrieveQuery = z.object({
  stream: z.enum(['true', 'false']).optional(),
  starting_after: z.coerce.number().int().min(-1).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});

const ItemsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().max(100).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});

/** Seconds a cancel waits for the run to settle before answering with what it has. */
const CANCEL_SETTLE_S = 10;

/** Where a new response runs: a session to continue, or a new one with a seed. */
interface Placement {
  sessionId?: string;
  seed: PlainMessage[];
  conversation: string | null;
  agent?: string;
}

/**
 * OpenAI Responses (API.md "Protocol façades"): a response is a run and a
 * conversation a session, so a response streams from the run's event log,
 * resumes by `starting_after`, and survives any process like every turn.
 */
export function responsesRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/responses' });

  route(
    router,
    { method: 'post', path: '/', scope: 'chat', body: ResponseBody, sse: true },
    (ctx: ApiContext) => createResponse(deps, ctx),
  );

  route(
    router,
    { method: 'get', path: '/:id', scope: 'chat', query: RetrieveQuery, sse: true },
    async (ctx: ApiContext) => {
      const q = parseInput(RetrieveQuery, ctx.query, 'query');
      const run = await loadResponse(deps, ctx);
      if (q.stream === 'true') {
        const lastEventId = headerText(ctx, 'Last-Event-ID');
        if (lastEventId && !/^\d+$/.test(lastEventId))
          throw new InvalidRequestError('Last-Event-ID must be a non-negative integer');
        const after = q.starting_after ?? (lastEventId ? Number(lastEventId) : -1);
        await streamResponse(ctx, deps, run, after, { 'X-Run-Id': run.id });
        return;
      }
      ctx.body = await responseOf(deps, run);
    },
  );

  route(router, { method: 'post', path: '/:id/cancel', scope: 'chat' }, async (ctx: ApiContext) => {
    let run = await loadResponse(deps, ctx);
    if (!FINISHED_STATUSES.includes(run.status)) {
      await deps.turns.cancel(run, 'cancelled');
      const settle = AbortSignal.timeout(CANCEL_SETTLE_S * 1000);
      run = await waitForRun(deps, run, settle);
    }
    ctx.body = await responseOf(deps, run);
  });

  route(router, { method: 'delete', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    const run = await loadResponse(deps, ctx);
    if (!FINISHED_STATUSES.includes(run.status))
      throw new ConflictError('run_in_progress', 'the response is still running; cancel it first', {
        response_id: protocolId('response', run.id),
      });
    // The run and its event log go; the messages stay in their conversation.
    await deleteRun(deps.pool, run.id);
    ctx.body = { id: protocolId('response', run.id), object: 'response', deleted: true };
  });

  route(
    router,
    { method: 'get', path: '/:id/input_items', scope: 'chat', query: ItemsQuery },
    (ctx: ApiContext) => listInputItems(deps, ctx),
  );

  return router;
}

/** `POST /responses`: a new turn, answered when done, at once (`background`) or streamed. */
async function createResponse(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const body = parseInput(ResponseBody, requestBody(ctx), 'response request');
  const { system, turn, history } = splitInput(body.input);
  if (turn.length === 0 || turn.every((m) => m.content.trim() === ''))
    throw new InvalidRequestError('input must end with a non-empty user message');
  // Before anything is stored: an unserved model or unknown thread keeps nothing.
  const model = servedModel(deps.models, body.model);
  const tenantId = ctx.state.principal.tenantId;
  const place = await placeResponse(deps, tenantId, body, history);
  const userId = callerUserId(ctx, body);
  const echo: ResponsesEcho = {
    instructions: body.instructions ?? null,
    previous_response_id: body.previous_response_id
      ? protocolId(
          'response',
          parseProtocolId('response', body.previous_response_id, 'previous_response_id'),
        )
      : null,
    conversation: place.conversation,
    background: body.background ?? false,
    store: body.store ?? true,
    metadata: body.metadata ?? {},
  };
  const { run } = await deps.turns.start({
    tenantId,
    userId,
    sessionId: place.sessionId,
    seedHistory: place.seed,
    input: {
      messages: turn,
      system: [...(body.instructions ? [body.instructions] : []), ...system],
      temperature: body.temperature ?? undefined,
      max_tokens: body.max_output_tokens ?? undefined,
      agent: headerText(ctx, 'X-Agent-Schema') || place.agent || 'default',
      responses: echo,
    },
    model,
    strategy: body.multitask_strategy ?? 'enqueue',
    idempotencyKey: idempotencyKey(ctx),
    requestFingerprint: { route: 'responses', body },
    admit: (tx) => checkConcurrentTurns(tx, deps.config.rateLimits, ctx.state.principal, userId),
  });
  deps.metrics.turnsStarted.inc();
  const headers = {
    'X-Run-Id': run.id,
    'X-Session-Id': run.session_id!,
    Location: `/v1/responses/${protocolId('response', run.id)}`,
  };
  if (body.stream) {
    await streamResponse(ctx, deps, run, -1, headers);
    return;
  }
  ctx.set(headers);
  if (body.background) {
    ctx.body = storedResponseJson(run, undefined);
    return;
  }
  const finished = await waitForRun(deps, run);
  if (finished.status === 'failed' && finished.error?.code === 'model_not_found') {
    // The provider did not know the model: the same 404 as an unserved one.
    throw modelNotFound(deps.models, model, finished.error.message);
  }
  ctx.body = await responseOf(deps, finished);
}

/** `GET /responses/{id}/input_items`: the user messages the response answered. */
async function listInputItems(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const q = parseInput(ItemsQuery, ctx.query, 'query');
  const run = await loadResponse(deps, ctx);
  const stored = (await messagesOfRun(deps.pool, run.id)).filter((m) => m.role === 'user');
  // A queued turn has not written its messages yet: its input says what they will be.
  const items = stored.length
    ? stored.map((m) => itemJson({ ...m, answer_of: null }))
    : run.input.messages.map((m, i) => ({
        id: `${protocolId('item', run.id)}_${i}`,
        type: 'message' as const,
        status: 'completed',
        role: m.role,
        content: [{ type: 'input_text' as const, text: m.content }],
      }));
  const ordered = q.order === 'desc' ? items.reverse() : items;
  let start = 0;
  if (q.after) {
    start = ordered.findIndex((item) => item.id === q.after) + 1;
    if (start === 0)
      throw new InvalidRequestError('after must be the id of an input item of this response');
  }
  const page = ordered.slice(start, start + q.limit);
  ctx.body = itemPage(page, start + q.limit < ordered.length);
}

/** The response of the path, in the caller's tenant (another tenant's is a 404). */
async function loadResponse(deps: ApiDeps, ctx: ApiContext): Promise<RunRow> {
  const id = parseProtocolId('response', pathId(ctx), 'response_id');
  const run = await getRun(deps.pool, ctx.state.principal.tenantId, id);
  if (!run || run.kind !== 'turn') throw new NotFoundError('response');
  return run;
}

async function responseOf(deps: ApiDeps, run: RunRow) {
  const answer = run.message_id
    ? await getMessage(deps.pool, run.tenant_id, run.message_id)
    : undefined;
  return storedResponseJson(run, answer);
}

function streamResponse(
  ctx: ApiContext,
  deps: ApiDeps,
  run: RunRow,
  startingAfter: number,
  headers: Record<string, string>,
): Promise<void> {
  // The whole log is rendered every time: numbering is a function of the log alone.
  const renderer = new ResponsesEventRenderer(run, startingAfter);
  return pipeRunEvents(ctx, deps, {
    run,
    afterSeq: 0,
    headers,
    preamble: renderer.created(),
    render: (event) => renderer.render(event),
  });
}

/**
 * A response continues the conversation it names, or the one its previous
 * response is the latest turn of. A previous response with later turns after
 * it forks: a new session seeded with the history up to that response, as
 * OpenAI's `previous_response_id` chains do.
 * @throws NotFoundError 404 for an unknown conversation or previous response
 */
async function placeResponse(
  deps: ApiDeps,
  tenantId: string,
  body: Body,
  history: PlainMessage[],
): Promise<Placement> {
  const threaded = body.conversation ?? body.previous_response_id;
  if (body.conversation && body.previous_response_id)
    throw new InvalidRequestError('conversation and previous_response_id cannot be used together');
  if (threaded && history.length)
    throw new InvalidRequestError(
      'with a conversation or previous_response_id, input may hold only user and system messages; add earlier items with POST /v1/conversations/{id}/items',
    );
  if (body.conversation) {
    const raw = typeof body.conversation === 'string' ? body.conversation : body.conversation.id;
    const id = parseProtocolId('conversation', raw, 'conversation');
    const session = await getSession(deps.pool, tenantId, id);
    if (!session) throw new NotFoundError('conversation');
    return { sessionId: session.id, seed: [], conversation: session.id, agent: session.agent };
  }
  if (body.previous_response_id) {
    const id = parseProtocolId('response', body.previous_response_id, 'previous_response_id');
    const previous = await getRun(deps.pool, tenantId, id);
    if (!previous || previous.kind !== 'turn' || !previous.session_id)
      throw new NotFoundError('previous response');
    const session = await getSession(deps.pool, tenantId, previous.session_id);
    if (!session) throw new NotFoundError('previous response');
    const [latest] = await listRuns(deps.pool, tenantId, {
      sessionId: session.id,
      kind: 'turn',
      limit: 1,
    });
    const conversation = previous.input.responses?.conversation ?? null;
    if (latest?.id === previous.id)
      return { sessionId: session.id, seed: [], conversation, agent: session.agent };
    const seed = (await historyThroughRun(deps.pool, session.id, previous.id))
      .filter((m) => m.role !== 'tool' && m.content !== '')
      .map((m) => ({ role: m.role as PlainMessage['role'], content: m.content }));
    return { seed, conversation: null, agent: session.agent };
  }
  return { seed: history, conversation: null };
}
