import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import { listSessionMessages, loadSessionHistory } from '../../db/messages';
import { activeRunsOfSession, listRuns } from '../../db/runs';
import {
  deleteSession,
  getSession,
  insertSession,
  listSessions,
  updateSession,
  type SessionRow,
} from '../../db/sessions';
import { maybeOne } from '../../db/sql';
import { AppError, InvalidRequestError, NotFoundError } from '../../errors';
import { suggestFollowUps } from '../../suggestions/follow-ups';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { checkConcurrentTurns } from '../../limits/concurrent-turns';
import {
  callerUserId,
  headerText,
  idempotencyKey,
  pathId,
  uuidParam,
  wantsExtendedEvents,
} from '../identity';
import { OpenAIChunkRenderer } from '../render/openai-chunks';
import { messageJson, runJson } from '../render/run-json';
import { nativeFrame, pipeRunEvents } from '../render/run-stream';
import { servedModel } from '../served-model';
import { cursor, keysetPage, parseInput, requestBody } from '../validation';

const Metadata = z.record(z.string(), z.unknown());

const CreateBody = z
  .object({
    title: z.string().max(500).optional(),
    agent: z.string().min(1).max(100).optional(),
    user_id: z.string().min(1).max(256).optional(),
    metadata: Metadata.optional(),
  })
  .strict();

const PatchBody = z
  .object({
    title: z.string().max(500).nullable().optional(),
    metadata: Metadata.optional(),
    agent: z.string().min(1).max(100).optional(),
  })
  .strict();

const ListQuery = z.object({
  user_id: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

const MessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().uuid().optional(),
});

const PostMessageBody = z
  .object({
    content: z.string().min(1, 'content must not be empty').max(200_000),
    stream: z.boolean().optional(),
    multitask_strategy: z.enum(['reject', 'enqueue', 'interrupt']).optional(),
    agent: z.string().min(1).max(100).optional(),
    model: z.string().min(1).max(200).optional(),
    user_id: z.string().min(1).max(256).optional(),
    system: z.string().max(50_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().positive().optional(),
  })
  .strict();

function sessionJson(s: SessionRow) {
  return {
    id: s.id,
    object: 'session',
    user_id: s.user_id,
    title: s.title,
    agent: s.agent,
    metadata: s.metadata,
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}

/** Sessions and their messages (API.md "Sessions and messages"). */
export function sessionsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/sessions' });

  route(
    router,
    { method: 'post', path: '/', scope: 'chat', body: CreateBody },
    async (ctx: ApiContext) => {
      const body = parseInput(CreateBody, requestBody(ctx) ?? {}, 'session');
      const session = await insertSession(deps.pool, {
        id: randomUUID(),
        tenantId: ctx.state.principal.tenantId,
        userId: callerUserId(ctx, body),
        title: body.title,
        agent: body.agent,
        metadata: body.metadata,
      });
      ctx.status = 201;
      ctx.body = sessionJson(session);
    },
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'chat', query: ListQuery },
    async (ctx: ApiContext) => {
      const q = parseInput(ListQuery, ctx.query, 'query');
      const rows = await listSessions(deps.pool, ctx.state.principal.tenantId, {
        userId: q.user_id ?? (headerText(ctx, 'X-User-Id') || undefined),
        limit: q.limit + 1,
        before: cursor.decode(q.cursor),
      });
      ctx.body = keysetPage(rows, q.limit, sessionJson, cursor.encode);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    ctx.body = sessionJson(await loadSession(deps, ctx));
  });

  route(
    router,
    { method: 'patch', path: '/:id', scope: 'chat', body: PatchBody },
    async (ctx: ApiContext) => {
      const id = uuidParam(pathId(ctx), 'session id');
      const body = parseInput(PatchBody, requestBody(ctx) ?? {}, 'session update');
      const updated = await updateSession(deps.pool, ctx.state.principal.tenantId, id, body);
      if (!updated) throw new NotFoundError('session');
      ctx.body = sessionJson(updated);
    },
  );

  route(router, { method: 'delete', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadSession(deps, ctx);
    for (const run of await activeRunsOfSession(deps.pool, session.id)) {
      await deps.turns.cancel(run, 'cancelled').catch(() => undefined);
    }
    await deleteSession(deps.pool, session.tenant_id, session.id);
    ctx.body = { id: session.id, object: 'session', deleted: true };
  });

  route(
    router,
    { method: 'get', path: '/:id/messages', scope: 'chat', query: MessagesQuery },
    (ctx: ApiContext) => listMessages(deps, ctx),
  );

  route(
    router,
    { method: 'post', path: '/:id/messages', scope: 'chat', body: PostMessageBody, sse: true },
    (ctx: ApiContext) => postMessage(deps, ctx),
  );

  route(router, { method: 'get', path: '/:id/suggestions', scope: 'chat' }, (ctx: ApiContext) =>
    suggestions(deps, ctx),
  );

  route(router, { method: 'post', path: '/:id/stop', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadSession(deps, ctx);
    // The oldest active run is the one running (or about to); queued ones stay queued.
    const active = (await activeRunsOfSession(deps.pool, session.id)).slice(0, 1);
    for (const run of active) await deps.turns.cancel(run, 'cancelled');
    ctx.status = 202;
    ctx.body = { session_id: session.id, cancelled: active.map((r) => r.id) };
  });

  return router;
}

/** The session of the path, in the caller's tenant (another tenant's is a 404). */
async function loadSession(deps: ApiDeps, ctx: ApiContext): Promise<SessionRow> {
  const session = await getSession(
    deps.pool,
    ctx.state.principal.tenantId,
    uuidParam(pathId(ctx), 'session id'),
  );
  if (!session) throw new NotFoundError('session');
  return session;
}

/** `GET /sessions/{id}/messages`: newest page first, `before` a message id. */
async function listMessages(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const session = await loadSession(deps, ctx);
  const q = parseInput(MessagesQuery, ctx.query, 'query');
  let beforeSeq: number | undefined;
  if (q.before) {
    const anchor = await maybeOne<{ seq: number }>(
      deps.pool,
      'select seq from messages where session_id = $1 and id = $2',
      [session.id, q.before],
    );
    if (!anchor)
      throw new InvalidRequestError('before must be the id of a message in this session');
    beforeSeq = anchor.seq;
  }
  const rows = await listSessionMessages(deps.pool, session.id, {
    limit: q.limit + 1,
    beforeSeq,
  });
  const page = rows.slice(0, q.limit).reverse();
  ctx.body = {
    object: 'list',
    data: page.map(messageJson),
    has_more: rows.length > q.limit,
    next_before: rows.length > q.limit ? page[0].id : null,
  };
}

/** `POST /sessions/{id}/messages`: a new turn, answered 202 `{run}` or streamed. */
async function postMessage(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const session = await loadSession(deps, ctx);
  const body = parseInput(PostMessageBody, requestBody(ctx), 'message');
  // Before the run exists: a model nothing serves stores nothing.
  const model = servedModel(deps.models, body.model);
  const userId = callerUserId(ctx, body) ?? session.user_id;
  const { run } = await deps.turns.start({
    tenantId: session.tenant_id,
    userId,
    sessionId: session.id,
    input: {
      messages: [{ role: 'user', content: body.content }],
      system: body.system ? [body.system] : [],
      temperature: body.temperature,
      max_tokens: body.max_tokens,
      agent: body.agent ?? (headerText(ctx, 'X-Agent-Schema') || session.agent),
    },
    model,
    strategy: body.multitask_strategy ?? 'enqueue',
    idempotencyKey: idempotencyKey(ctx),
    requestFingerprint: { route: 'session.messages', sessionId: session.id, body },
    admit: (tx) => checkConcurrentTurns(tx, deps.config.rateLimits, ctx.state.principal, userId),
  });
  deps.metrics.turnsStarted.inc();
  const headers = {
    'X-Run-Id': run.id,
    'X-Session-Id': session.id,
    Location: `/v1/runs/${run.id}`,
  };
  if (body.stream) {
    // Native run events by default; OpenAI chunks only when asked for explicitly.
    const openai = ctx.get('Accept').includes('application/x-openai-chunks');
    const renderer = openai
      ? new OpenAIChunkRenderer({
          runId: run.id,
          model,
          created: Math.floor(Date.now() / 1000),
          includeUsage: true,
          extended: wantsExtendedEvents(ctx),
        })
      : undefined;
    await pipeRunEvents(ctx, deps, {
      run,
      afterSeq: 0,
      headers,
      render: (event) => (renderer ? renderer.render(event) : [nativeFrame(event)]),
    });
    return;
  }
  ctx.set(headers);
  ctx.status = 202;
  ctx.body = { run: runJson(run, deps.config) };
}

/** `GET /sessions/{id}/suggestions`: three follow-up questions from the model. */
async function suggestions(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const session = await loadSession(deps, ctx);
  const lastRun = (
    await listRuns(deps.pool, session.tenant_id, {
      sessionId: session.id,
      kind: 'turn',
      limit: 1,
    })
  )[0];
  const questions = await suggestFollowUps(
    deps.models,
    lastRun?.model ?? deps.models.defaultModel,
    await loadSessionHistory(deps.pool, session.id),
  ).catch((err: Error) => {
    throw new AppError(
      502,
      'provider_error',
      `could not get suggestions: ${err.message}`,
      undefined,
      { expose: true },
    );
  });
  ctx.body = { object: 'list', session_id: session.id, data: questions };
}
