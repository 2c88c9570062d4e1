import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import { activeRunsOfSession, FINISHED_STATUSES, listRuns } from '../../db/runs';
import {
  busySessions,
  deleteSession,
  ensureSession,
  searchSessions,
  updateSession,
} from '../../db/sessions';
import { ConflictError } from '../../errors';
import {
  assistantJson,
  listAssistants,
  loadThread,
  resolveAssistant,
  threadMessages,
} from '../agent-protocol';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { callerUserId, Uuid } from '../identity';
import { threadJson, threadStateJson } from '../render/langgraph-json';
import { route } from '../route-spec';
import { parseInput, requestBody } from '../validation';

const Metadata = z.record(z.string().max(200), z.unknown());

const CreateThreadBody = z.object({
  thread_id: Uuid.nullish(),
  metadata: Metadata.nullish(),
  if_exists: z.enum(['raise', 'do_nothing']).nullish(),
});

const SearchThreadsBody = z.object({
  metadata: Metadata.nullish(),
  ids: z.array(Uuid).max(1000).nullish(),
  status: z.enum(['idle', 'busy', 'interrupted', 'error']).nullish(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).max(100_000).default(0),
  sort_by: z.string().max(50).nullish(),
  sort_order: z.enum(['asc', 'desc']).nullish(),
  values: z.unknown().optional(),
  select: z.unknown().optional(),
});

const PatchThreadBody = z.object({ metadata: Metadata });

const HistoryBody = z.object({
  limit: z.number().int().min(1).max(100).default(10),
  before: z.unknown().optional(),
  metadata: z.unknown().optional(),
  checkpoint: z.unknown().optional(),
});
const HistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) });

const SearchAssistantsBody = z.object({
  graph_id: z.string().max(200).nullish(),
  metadata: Metadata.nullish(),
  name: z.string().max(200).nullish(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  sort_by: z.string().max(50).nullish(),
  sort_order: z.enum(['asc', 'desc']).nullish(),
  select: z.unknown().optional(),
});

/** Agent Protocol threads (= sessions): create, search, get, patch, delete, state, history. */
export function apThreadsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/ap/threads' });

  route(
    router,
    {
      method: 'post',
      path: '/',
      scope: 'chat',
      body: CreateThreadBody,
      summary: 'Create a thread',
    },
    async (ctx: ApiContext) => {
      const body = parseInput(CreateThreadBody, requestBody(ctx) ?? {}, 'thread');
      const tenantId = ctx.state.principal.tenantId;
      const ensured = await ensureSession(deps.pool, {
        id: body.thread_id ?? randomUUID(),
        tenantId,
        userId: callerUserId(ctx),
      });
      // Another tenant's id reads as taken, like one of the caller's own.
      if (!ensured || (!ensured.created && body.if_exists !== 'do_nothing'))
        throw new ConflictError('conflict', 'a thread with this id already exists');
      let session = ensured.session;
      if (ensured.created && body.metadata)
        session = (await updateSession(deps.pool, tenantId, session.id, {
          metadata: body.metadata,
        }))!;
      ctx.body = threadJson(session, false);
    },
  );

  route(
    router,
    {
      method: 'post',
      path: '/search',
      scope: 'chat',
      body: SearchThreadsBody,
      summary: 'Search threads',
    },
    async (ctx: ApiContext) => {
      const body = parseInput(SearchThreadsBody, requestBody(ctx) ?? {}, 'thread search');
      const tenantId = ctx.state.principal.tenantId;
      const rows = await searchSessions(deps.pool, tenantId, {
        metadata: body.metadata ?? undefined,
        ids: body.ids ?? undefined,
        limit: body.limit,
        offset: body.offset,
      });
      const busy = await busySessions(
        deps.pool,
        tenantId,
        rows.map((s) => s.id),
      );
      ctx.body = rows
        .map((s) => threadJson(s, busy.has(s.id)))
        .filter((t) => !body.status || t.status === body.status);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadThread(deps, ctx);
    const busy = await busySessions(deps.pool, session.tenant_id, [session.id]);
    ctx.body = threadJson(session, busy.has(session.id), await threadMessages(deps, session.id));
  });

  route(
    router,
    { method: 'patch', path: '/:id', scope: 'chat', body: PatchThreadBody },
    async (ctx: ApiContext) => {
      const session = await loadThread(deps, ctx);
      const body = parseInput(PatchThreadBody, requestBody(ctx), 'thread update');
      // LangGraph merges metadata keys into what the thread has.
      const updated = await updateSession(deps.pool, session.tenant_id, session.id, {
        metadata: { ...session.metadata, ...body.metadata },
      });
      ctx.body = threadJson(updated ?? session, false);
    },
  );

  route(router, { method: 'delete', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadThread(deps, ctx);
    for (const run of await activeRunsOfSession(deps.pool, session.id)) {
      await deps.turns.cancel(run, 'cancelled').catch(() => undefined);
    }
    await deleteSession(deps.pool, session.tenant_id, session.id);
    ctx.status = 204;
  });

  route(router, { method: 'get', path: '/:id/state', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadThread(deps, ctx);
    const [latest] = await latestFinishedTurns(deps, session.tenant_id, session.id, 1);
    ctx.body = threadStateJson(session, await threadMessages(deps, session.id), latest?.id ?? null);
  });

  const history = async (ctx: ApiContext, limit: number) => {
    const session = await loadThread(deps, ctx);
    const runs = await latestFinishedTurns(deps, session.tenant_id, session.id, limit);
    // One state per finished turn, newest first: the messages through that turn's.
    const states = [];
    for (const run of runs)
      states.push(threadStateJson(session, await threadMessages(deps, session.id, run.id), run.id));
    ctx.body = states;
  };
  route(
    router,
    { method: 'post', path: '/:id/history', scope: 'chat', body: HistoryBody },
    (ctx: ApiContext) =>
      history(ctx, parseInput(HistoryBody, requestBody(ctx) ?? {}, 'history request').limit),
  );
  route(
    router,
    { method: 'get', path: '/:id/history', scope: 'chat', query: HistoryQuery },
    (ctx: ApiContext) => history(ctx, parseInput(HistoryQuery, ctx.query, 'query').limit),
  );

  return router;
}

async function latestFinishedTurns(
  deps: ApiDeps,
  tenantId: string,
  sessionId: string,
  limit: number,
) {
  const runs = await listRuns(deps.pool, tenantId, { sessionId, kind: 'turn', limit: limit + 20 });
  return runs.filter((r) => FINISHED_STATUSES.includes(r.status)).slice(0, limit);
}

/** Agent Protocol assistants (= agents): search, get, schemas. */
export function apAssistantsRouter(): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/ap/assistants' });

  route(
    router,
    {
      method: 'post',
      path: '/search',
      scope: 'chat',
      body: SearchAssistantsBody,
      summary: 'Search assistants',
    },
    (ctx: ApiContext) => {
      const body = parseInput(SearchAssistantsBody, requestBody(ctx) ?? {}, 'assistant search');
      ctx.body = listAssistants(body.graph_id ?? undefined)
        .filter((a) => !body.name || a.name === body.name)
        .slice(body.offset, body.offset + body.limit)
        .map(assistantJson);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'chat' }, (ctx: ApiContext) => {
    ctx.body = assistantJson(resolveAssistant((ctx.params as Record<string, string>).id));
  });

  route(router, { method: 'get', path: '/:id/schemas', scope: 'chat' }, (ctx: ApiContext) => {
    const assistant = resolveAssistant((ctx.params as Record<string, string>).id);
    const messages = {
      type: 'object',
      properties: { messages: { type: 'array', items: { type: 'object' } } },
    };
    ctx.body = {
      graph_id: assistant.name,
      input_schema: messages,
      output_schema: messages,
      state_schema: messages,
      config_schema: { type: 'object', properties: {} },
      context_schema: { type: 'object', properties: {} },
    };
  });

  return router;
}
