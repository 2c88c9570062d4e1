import Router from '@koa/router';
import { z } from 'zod';
import type { Queryable } from '../../db/pool';
import { withTransaction } from '../../db/sql';
import {
  AppError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  UnavailableError,
} from '../../errors';
import { factHash } from '../../memory/content-hash';
import {
  clearUserMemories,
  deleteMemory,
  getMemory,
  getMemoryAnyVersion,
  listMemories,
  lockUserMemories,
  memoryHistory,
  searchMemories,
  updateMemory,
  type MemoryChangeRow,
  type MemoryRow,
} from '../../memory/memory-store';
import type { MemoryRunInput } from '../../memory/memory-run-input';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { callerUserId, idempotencyKey, pathId, uuidParam } from '../identity';
import { runJson } from '../render/run-json';
import { keysetPage, parseInput, requestBody } from '../validation';

const UserId = z.string().trim().min(1).max(256);
const Metadata = z.record(z.string(), z.unknown());

const AddBody = z
  .object({
    messages: z
      .array(
        z
          .object({
            role: z.enum(['user', 'assistant', 'system']),
            content: z.string().max(100_000),
          })
          .strict(),
      )
      .min(1)
      .max(200)
      .optional(),
    text: z.string().trim().min(1, 'text must not be empty').max(10_000).optional(),
    user_id: UserId.optional(),
    user: UserId.optional(),
    infer: z.boolean().optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => (b.messages === undefined) !== (b.text === undefined), {
    message: 'give exactly one of messages or text',
  });

const AddQuery = z.object({
  wait: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  timeout: z.coerce.number().min(1).max(600).default(60),
});

const ListQuery = z.object({
  user_id: UserId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().optional(),
});

const SearchBody = z
  .object({
    query: z.string().trim().min(1, 'query must not be empty').max(10_000),
    user_id: UserId.optional(),
    user: UserId.optional(),
    limit: z.number().int().min(1).max(100).default(10),
    min_score: z.number().min(-1).max(1).optional(),
  })
  .strict();

const PatchBody = z
  .object({
    text: z.string().trim().min(1, 'text must not be empty').max(10_000).optional(),
    metadata: Metadata.optional(),
    category: z.string().max(100).nullable().optional(),
  })
  .strict()
  .refine((b) => b.text !== undefined || b.metadata !== undefined || b.category !== undefined, {
    message: 'nothing to update: give text, metadata or category',
  });

const ClearQuery = z.object({ user_id: UserId.optional() });

/** A memory as the API shows it (mem0's field names: `memory` is the text). */
export function memoryJson(m: MemoryRow & { score?: number }) {
  return {
    id: m.id,
    object: 'memory',
    user_id: m.user_id,
    memory: m.content,
    category: m.category,
    metadata: m.metadata,
    ...(m.score !== undefined ? { score: Math.round(m.score * 10_000) / 10_000 } : {}),
    source_run_id: m.source_run_id,
    valid_from: m.valid_from.toISOString(),
    valid_to: m.valid_to?.toISOString() ?? null,
    created_at: m.created_at.toISOString(),
    updated_at: m.updated_at.toISOString(),
  };
}

function changeJson(c: MemoryChangeRow) {
  return {
    id: c.id,
    object: 'memory.change',
    memory_id: c.memory_id,
    event: c.event,
    previous_memory: c.previous_content,
    memory: c.content,
    archived_id: c.archived_id,
    source: c.source,
    run_id: c.run_id,
    reason: c.reason,
    created_at: c.created_at.toISOString(),
  };
}

/** Opaque keyset cursor over `(updated_at, id)`. */
const memoryCursor = {
  encode: (m: MemoryRow) =>
    Buffer.from(JSON.stringify([m.updated_at.toISOString(), m.id])).toString('base64url'),
  decode(value: string | undefined): { updatedAt: string; id: string } | undefined {
    if (!value) return undefined;
    try {
      const [updatedAt, id] = JSON.parse(Buffer.from(value, 'base64url').toString()) as [
        string,
        string,
      ];
      if (Number.isNaN(Date.parse(updatedAt)) || !z.string().uuid().safeParse(id).success)
        throw new Error();
      return { updatedAt, id };
    } catch {
      throw new InvalidRequestError('invalid cursor');
    }
  },
};

/**
 * Long-term memories (API.md "Memory and dreaming"). Every route acts in the
 * caller's tenant and for one user: a memory of another tenant or user is a 404.
 */
export function memoriesRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/memories' });

  route(
    router,
    { method: 'post', path: '/', scope: 'memories', body: AddBody, query: AddQuery },
    (ctx: ApiContext) => addMemories(deps, ctx),
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'memories', query: ListQuery },
    async (ctx: ApiContext) => {
      const q = parseInput(ListQuery, ctx.query, 'query');
      const userId = requireUser(ctx, { user_id: q.user_id });
      const rows = await listMemories(deps.pool, ctx.state.principal.tenantId, userId, {
        limit: q.limit + 1,
        before: memoryCursor.decode(q.cursor),
      });
      ctx.body = keysetPage(rows, q.limit, memoryJson, memoryCursor.encode);
    },
  );

  route(
    router,
    { method: 'delete', path: '/', scope: 'memories', query: ClearQuery },
    async (ctx: ApiContext) => {
      const q = parseInput(ClearQuery, ctx.query, 'query');
      const userId = requireUser(ctx, { user_id: q.user_id });
      const tenantId = ctx.state.principal.tenantId;
      const deleted = await withTransaction(deps.pool, async (tx) => {
        await lockUserMemories(tx, tenantId, userId);
        return clearUserMemories(tx, tenantId, userId);
      });
      ctx.body = { object: 'memory.clear', user_id: userId, deleted };
    },
  );

  route(
    router,
    { method: 'post', path: '/search', scope: 'memories', body: SearchBody },
    async (ctx: ApiContext) => {
      const body = parseInput(SearchBody, requestBody(ctx), 'search');
      const userId = requireUser(ctx, body);
      const [vector] = await embedQuery(deps, body.query);
      const rows = await searchMemories(deps.pool, {
        tenantId: ctx.state.principal.tenantId,
        userId,
        vector,
        limit: body.limit,
        minScore: body.min_score,
      });
      ctx.body = { object: 'list', data: rows.map(memoryJson) };
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'memories' }, async (ctx: ApiContext) => {
    ctx.body = memoryJson(await loadMemory(deps, ctx));
  });

  route(
    router,
    { method: 'patch', path: '/:id', scope: 'memories', body: PatchBody },
    (ctx: ApiContext) => patchMemory(deps, ctx),
  );

  route(router, { method: 'delete', path: '/:id', scope: 'memories' }, async (ctx: ApiContext) => {
    const current = await loadMemory(deps, ctx);
    const deleted = await withTransaction(deps.pool, async (tx) => {
      await lockUserMemories(tx, current.tenant_id, current.user_id);
      return deleteMemory(
        tx,
        { tenantId: current.tenant_id, id: current.id },
        { source: 'api', reason: 'deleted through the API' },
      );
    });
    if (!deleted) throw new NotFoundError('memory');
    ctx.body = { id: current.id, object: 'memory', deleted: true };
  });

  route(
    router,
    { method: 'get', path: '/:id/history', scope: 'memories' },
    async (ctx: ApiContext) => {
      const row = await loadMemory(deps, ctx, true);
      // An archived version's history is its memory's.
      const memoryId = row.valid_to && row.superseded_by ? row.superseded_by : row.id;
      const changes = await memoryHistory(deps.pool, row.tenant_id, memoryId);
      ctx.body = { object: 'list', memory_id: memoryId, data: changes.map(changeJson) };
    },
  );

  return router;
}

async function embedQuery(deps: ApiDeps, text: string): Promise<number[][]> {
  try {
    return await deps.embedder.embed([text]);
  } catch (err) {
    throw new UnavailableError(
      'the embeddings provider is unavailable',
      { dependency: 'embeddings' },
      err,
    );
  }
}

async function currentVector(tx: Queryable, id: string): Promise<number[]> {
  const res = await tx.query<{ embedding: string }>(
    'select embedding::text as embedding from memories where id = $1',
    [id],
  );
  return JSON.parse(res.rows[0]?.embedding ?? '[]') as number[];
}

/** The user a request acts for: `X-User-Id`, else `user_id` in the body or query. */
function requireUser(ctx: ApiContext, from?: { user_id?: unknown; user?: unknown }): string {
  const user = callerUserId(ctx, from);
  if (!user)
    throw new InvalidRequestError('user_id is required (or the X-User-Id header)', {
      issues: [{ path: 'user_id', message: 'Required', code: 'invalid_type' }],
    });
  return user;
}

/** A current memory of the tenant (any version when asked), and of the caller's user when one is named. */
async function loadMemory(deps: ApiDeps, ctx: ApiContext, anyVersion = false): Promise<MemoryRow> {
  const id = uuidParam(pathId(ctx), 'memory id');
  const tenantId = ctx.state.principal.tenantId;
  const row = anyVersion
    ? await getMemoryAnyVersion(deps.pool, tenantId, id)
    : await getMemory(deps.pool, tenantId, id);
  const user = callerUserId(ctx, {
    user_id: typeof ctx.query.user_id === 'string' ? ctx.query.user_id : undefined,
  });
  if (!row || (user && row.user_id !== user)) throw new NotFoundError('memory');
  return row;
}

/** `POST /memories`: a `memory` run extracting facts; `?wait=true` answers with its results. */
async function addMemories(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const body = parseInput(AddBody, requestBody(ctx), 'memory');
  const query = parseInput(AddQuery, ctx.query, 'query');
  const userId = requireUser(ctx, body);
  const tenantId = ctx.state.principal.tenantId;
  const input: MemoryRunInput = {
    messages: body.messages,
    text: body.text,
    infer: body.infer,
    metadata: body.metadata,
  };
  const { run } = await deps.memoryExtraction.start({
    tenantId,
    userId,
    input,
    idempotencyKey: idempotencyKey(ctx),
    fingerprint: { route: 'memories.add', userId, body },
  });
  const headers = { 'X-Run-Id': run.id, Location: `/v1/runs/${run.id}` };
  ctx.set(headers);
  if (!query.wait) {
    ctx.status = 202;
    ctx.body = {
      object: 'memory.add',
      run_id: run.id,
      status: run.status,
      results: null,
      run: runJson(run, deps.config),
    };
    return;
  }
  const outcome = await deps.memoryExtraction.outcome(run, query.timeout);
  if (outcome.status === 'failed') {
    throw new AppError(
      outcome.error.code === 'provider_error' ? 502 : 500,
      outcome.error.code,
      outcome.error.message,
      { run_id: run.id },
      { expose: true },
    );
  }
  ctx.body = {
    object: 'memory.add',
    run_id: run.id,
    status: 'succeeded',
    results: outcome.results,
    usage: outcome.usage,
  };
}

/** `PATCH /memories/{id}`: new text (re-embedded), metadata or category, with history. */
async function patchMemory(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const body = parseInput(PatchBody, requestBody(ctx) ?? {}, 'memory update');
  const current = await loadMemory(deps, ctx);
  const text = body.text ?? current.content;
  const [vector] = text === current.content ? [undefined] : await embedQuery(deps, text);
  const updated = await withTransaction(deps.pool, async (tx) => {
    await lockUserMemories(tx, current.tenant_id, current.user_id);
    return updateMemory(
      tx,
      { tenantId: current.tenant_id, id: current.id },
      {
        content: text,
        hash: factHash(text),
        vector: vector ?? (await currentVector(tx, current.id)),
        metadata: body.metadata,
        category: body.category,
      },
      { source: 'api', reason: 'updated through the API' },
    );
  });
  if (!updated) {
    // Gone meanwhile, or the new text is another memory's.
    if (!(await getMemory(deps.pool, current.tenant_id, current.id)))
      throw new NotFoundError('memory');
    throw new ConflictError('conflict', 'another memory of this user already says this');
  }
  ctx.body = memoryJson(updated);
}
