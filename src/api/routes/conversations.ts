import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import {
  deleteMessage,
  findSessionItem,
  insertMessage,
  listSessionItems,
  type ItemRow,
} from '../../db/messages';
import { activeRunsOfSession, FINISHED_STATUSES, getRun } from '../../db/runs';
import {
  deleteSession,
  getSession,
  insertSession,
  updateSession,
  type SessionRow,
} from '../../db/sessions';
import { withTransaction } from '../../db/sql';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { callerUserId, pathId } from '../identity';
import { parseProtocolId, protocolId } from '../protocol-ids';
import { itemJson, itemPage } from '../render/responses-json';
import { InputMessage, plainMessage } from '../responses-input';
import { route } from '../route-spec';
import { parseInput, requestBody } from '../validation';

const Metadata = z.record(z.string().max(64), z.string().max(512));

const CreateBody = z.object({
  items: z.array(InputMessage).max(20).nullish(),
  metadata: Metadata.nullish(),
});

const UpdateBody = z.object({ metadata: Metadata });

const AddItemsBody = z.object({ items: z.array(InputMessage).min(1).max(20) });

const ItemsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().max(100).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});

function conversationJson(s: SessionRow) {
  return {
    id: protocolId('conversation', s.id),
    object: 'conversation' as const,
    created_at: Math.floor(s.created_at.getTime() / 1000),
    metadata: s.metadata,
  };
}

/**
 * OpenAI Conversations (API.md "Protocol façades"): a conversation is a
 * session and its items are the session's messages, so a conversation made
 * here continues with `POST /v1/responses {conversation}` or any other API.
 */
export function conversationsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/conversations' });

  route(
    router,
    { method: 'post', path: '/', scope: 'chat', body: CreateBody },
    async (ctx: ApiContext) => {
      const body = parseInput(CreateBody, requestBody(ctx) ?? {}, 'conversation');
      const session = await withTransaction(deps.pool, async (tx) => {
        const made = await insertSession(tx, {
          id: randomUUID(),
          tenantId: ctx.state.principal.tenantId,
          userId: callerUserId(ctx),
          metadata: body.metadata ?? {},
        });
        await addItems(tx, made, body.items ?? []);
        return made;
      });
      ctx.body = conversationJson(session);
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    ctx.body = conversationJson(await loadConversation(deps, ctx));
  });

  route(
    router,
    { method: 'post', path: '/:id', scope: 'chat', body: UpdateBody },
    async (ctx: ApiContext) => {
      const session = await loadConversation(deps, ctx);
      const body = parseInput(UpdateBody, requestBody(ctx), 'conversation update');
      const updated = await updateSession(deps.pool, session.tenant_id, session.id, {
        metadata: body.metadata,
      });
      if (!updated) throw new NotFoundError('conversation');
      ctx.body = conversationJson(updated);
    },
  );

  route(router, { method: 'delete', path: '/:id', scope: 'chat' }, async (ctx: ApiContext) => {
    const session = await loadConversation(deps, ctx);
    for (const run of await activeRunsOfSession(deps.pool, session.id)) {
      await deps.turns.cancel(run, 'cancelled').catch(() => undefined);
    }
    await deleteSession(deps.pool, session.tenant_id, session.id);
    ctx.body = {
      id: protocolId('conversation', session.id),
      object: 'conversation.deleted',
      deleted: true,
    };
  });

  route(
    router,
    { method: 'get', path: '/:id/items', scope: 'chat', query: ItemsQuery },
    async (ctx: ApiContext) => {
      const session = await loadConversation(deps, ctx);
      const q = parseInput(ItemsQuery, ctx.query, 'query');
      const anchor = q.after ? await loadItem(deps, session, q.after, 'after') : undefined;
      const rows = await listSessionItems(deps.pool, session.id, {
        order: q.order,
        afterSeq: anchor?.seq,
        limit: q.limit + 1,
      });
      ctx.body = itemPage(rows.slice(0, q.limit).map(itemJson), rows.length > q.limit);
    },
  );

  route(
    router,
    { method: 'post', path: '/:id/items', scope: 'chat', body: AddItemsBody },
    async (ctx: ApiContext) => {
      const session = await loadConversation(deps, ctx);
      const body = parseInput(AddItemsBody, requestBody(ctx), 'conversation items');
      const rows = await withTransaction(deps.pool, (tx) => addItems(tx, session, body.items));
      ctx.body = itemPage(rows.map(itemJson), false);
    },
  );

  route(
    router,
    { method: 'get', path: '/:id/items/:item_id', scope: 'chat' },
    async (ctx: ApiContext) => {
      const session = await loadConversation(deps, ctx);
      ctx.body = itemJson(await loadItem(deps, session, itemParam(ctx), 'item_id'));
    },
  );

  route(
    router,
    { method: 'delete', path: '/:id/items/:item_id', scope: 'chat' },
    async (ctx: ApiContext) => {
      const session = await loadConversation(deps, ctx);
      const item = await loadItem(deps, session, itemParam(ctx), 'item_id');
      const run = item.run_id ? await getRun(deps.pool, session.tenant_id, item.run_id) : undefined;
      if (run && !FINISHED_STATUSES.includes(run.status))
        throw new ConflictError('run_in_progress', 'the item belongs to a response still running');
      await deleteMessage(deps.pool, session.id, item.id);
      ctx.body = conversationJson(session);
    },
  );

  return router;
}

function itemParam(ctx: ApiContext): string | undefined {
  return (ctx.params as Record<string, string | undefined>).item_id;
}

/** The conversation of the path, in the caller's tenant (another tenant's is a 404). */
async function loadConversation(deps: ApiDeps, ctx: ApiContext): Promise<SessionRow> {
  const id = parseProtocolId('conversation', pathId(ctx), 'conversation_id');
  const session = await getSession(deps.pool, ctx.state.principal.tenantId, id);
  if (!session) throw new NotFoundError('conversation');
  return session;
}

async function loadItem(
  deps: ApiDeps,
  session: SessionRow,
  raw: string | undefined,
  param: string,
): Promise<ItemRow> {
  const item = await findSessionItem(deps.pool, session.id, parseProtocolId('item', raw, param));
  if (!item) {
    if (param === 'after')
      throw new InvalidRequestError('after must be the id of an item of this conversation');
    throw new NotFoundError('item');
  }
  return item;
}

/** Items join the history as messages of no run (context for the next response). */
async function addItems(
  tx: Parameters<typeof insertMessage>[0],
  session: SessionRow,
  items: InputMessage[],
): Promise<ItemRow[]> {
  const rows: ItemRow[] = [];
  for (const item of items) {
    const m = plainMessage(item);
    const row = await insertMessage(tx, {
      id: randomUUID(),
      tenantId: session.tenant_id,
      sessionId: session.id,
      runId: null,
      role: m.role,
      content: m.content,
      idemKey: null,
    });
    rows.push({ ...row, answer_of: null });
  }
  return rows;
}
