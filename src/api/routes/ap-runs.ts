import Router from '@koa/router';
import { z } from 'zod';
import { itemsBeforeRun } from '../../db/messages';
import { deleteRun, FINISHED_STATUSES, getRun, listRuns, type RunRow } from '../../db/runs';
import { getSession, type SessionRow } from '../../db/sessions';
import { withTransaction } from '../../db/sql';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../errors';
import { checkConcurrentTurns } from '../../limits/concurrent-turns';
import {
  LangGraphInputMessage,
  loadThread,
  resolveAssistant,
  splitMessages,
  threadMessages,
} from '../agent-protocol';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { callerUserId, headerText, idempotencyKey, uuidParam } from '../identity';
import { LangGraphEventRenderer, STREAM_MODES, type StreamMode } from '../render/langgraph-events';
import { langGraphMessage, langGraphRunJson } from '../render/langgraph-json';
import { pipeRunEvents } from '../render/run-stream';
import { route } from '../route-spec';
import { servedModel } from '../served-model';
import { parseInput, requestBody } from '../validation';
import { waitForRun } from './chat-completions';

const StreamModes = z.union([
  z.enum(STREAM_MODES),
  z.array(z.enum(STREAM_MODES)).max(STREAM_MODES.length),
]);

const RunBody = z.object({
  assistant_id: z.string().min(1).max(200),
  input: z.object({ messages: z.array(LangGraphInputMessage).min(1).max(500) }),
  metadata: z.record(z.string().max(200), z.unknown()).nullish(),
  config: z.object({ configurable: z.record(z.string(), z.unknown()).optional() }).nullish(),
  context: z.record(z.string(), z.unknown()).nullish(),
  stream_mode: StreamModes.nullish(),
  stream_subgraphs: z.boolean().nullish(),
  stream_resumable: z.boolean().nullish(),
  multitask_strategy: z.enum(['reject', 'enqueue', 'interrupt', 'rollback']).nullish(),
  if_not_exists: z.enum(['create', 'reject']).nullish(),
  on_completion: z.enum(['delete', 'keep']).nullish(),
  on_disconnect: z.enum(['cancel', 'continue']).nullish(),
  durability: z.string().max(20).nullish(),
  checkpoint_during: z.boolean().nullish(),
  command: z.null().optional(),
  interrupt_before: z.array(z.string()).max(0, 'interrupts are not supported').nullish(),
  interrupt_after: z.array(z.string()).max(0, 'interrupts are not supported').nullish(),
  after_seconds: z.literal(0).nullish(),
});

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  offset: z.coerce.number().int().min(0).max(10_000).default(0),
  status: z.enum(['pending', 'running', 'error', 'success', 'timeout', 'interrupted']).optional(),
});

const JoinStreamQuery = z.object({
  stream_mode: z.union([z.enum(STREAM_MODES), z.array(z.enum(STREAM_MODES))]).optional(),
  cancel_on_disconnect: z.enum(['true', 'false', '0', '1']).optional(),
});

const CancelQuery = z.object({
  wait: z.enum(['0', '1', 'true', 'false']).default('0'),
  action: z.enum(['interrupt', 'rollback']).default('interrupt'),
  reason: z.string().max(500).optional(),
});

/** Seconds a waiting cancel gives the run to settle. */
const CANCEL_SETTLE_S = 10;

const modesOf = (v: StreamMode | StreamMode[] | null | undefined): StreamMode[] =>
  v ? (Array.isArray(v) ? v : [v]) : ['values'];

/**
 * Agent Protocol runs (LangGraph-compatible): every run is a durable turn.
 * Streams are numbered from the run's event log; a client reconnects with
 * `Last-Event-ID` (the SDK does it by itself, from the `Location` it is given).
 */
export function apRunsRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/ap' });

  for (const stateless of [false, true]) {
    const base = stateless ? '/runs' : '/threads/:id/runs';
    route(
      router,
      { method: 'post', path: base, scope: 'chat', body: RunBody },
      async (ctx: ApiContext) => {
        const { run } = await startRun(deps, ctx, stateless);
        ctx.set(runHeaders(run));
        ctx.body = langGraphRunJson(run);
      },
    );
    route(
      router,
      { method: 'post', path: `${base}/stream`, scope: 'chat', body: RunBody, sse: true },
      async (ctx: ApiContext) => {
        const { run, modes } = await startRun(deps, ctx, stateless);
        await streamRun(ctx, deps, run, modes, -1);
      },
    );
    route(
      router,
      { method: 'post', path: `${base}/wait`, scope: 'chat', body: RunBody },
      async (ctx: ApiContext) => {
        const { run } = await startRun(deps, ctx, stateless);
        ctx.set(runHeaders(run));
        ctx.body = await finalValues(deps, await waitForRun(deps, run));
      },
    );
  }

  route(
    router,
    { method: 'get', path: '/threads/:id/runs', scope: 'chat', query: ListQuery },
    async (ctx: ApiContext) => {
      const session = await loadThread(deps, ctx);
      const q = parseInput(ListQuery, ctx.query, 'query');
      const runs = await listRuns(deps.pool, session.tenant_id, {
        sessionId: session.id,
        kind: 'turn',
        limit: q.offset + q.limit,
      });
      ctx.body = runs
        .slice(q.offset)
        .map(langGraphRunJson)
        .filter((r) => !q.status || r.status === q.status);
    },
  );

  route(
    router,
    { method: 'get', path: '/threads/:id/runs/:run_id', scope: 'chat' },
    async (ctx: ApiContext) => {
      ctx.body = langGraphRunJson(await loadThreadRun(deps, ctx));
    },
  );

  route(
    router,
    { method: 'delete', path: '/threads/:id/runs/:run_id', scope: 'chat' },
    async (ctx: ApiContext) => {
      const run = await loadThreadRun(deps, ctx);
      if (!FINISHED_STATUSES.includes(run.status))
        throw new ConflictError('run_in_progress', 'the run is still running; cancel it first');
      await deleteRun(deps.pool, run.id);
      ctx.status = 204;
    },
  );

  route(
    router,
    { method: 'get', path: '/threads/:id/runs/:run_id/join', scope: 'chat' },
    async (ctx: ApiContext) => {
      const run = await loadThreadRun(deps, ctx);
      ctx.body = await finalValues(deps, await waitForRun(deps, run));
    },
  );

  route(
    router,
    {
      method: 'get',
      path: '/threads/:id/runs/:run_id/stream',
      scope: 'chat',
      query: JoinStreamQuery,
      sse: true,
    },
    async (ctx: ApiContext) => {
      const run = await loadThreadRun(deps, ctx);
      const q = parseInput(JoinStreamQuery, ctx.query, 'query');
      const lastEventId = headerText(ctx, 'Last-Event-ID');
      // `-1` asks for the whole run, as LangGraph servers read it.
      if (lastEventId && !/^(-1|\d+)$/.test(lastEventId))
        throw new InvalidRequestError('Last-Event-ID must be an event id or -1');
      const modes = q.stream_mode ? modesOf(q.stream_mode) : runModes(run);
      await streamRun(ctx, deps, run, modes, lastEventId ? Number(lastEventId) : -1);
    },
  );

  route(
    router,
    { method: 'post', path: '/threads/:id/runs/:run_id/cancel', scope: 'chat', query: CancelQuery },
    (ctx: ApiContext) => cancelRun(deps, ctx),
  );

  return router;
}

/** Cancel: `interrupt` stops the turn (its partial answer kept); `rollback` also removes it. */
async function cancelRun(deps: ApiDeps, ctx: ApiContext): Promise<void> {
  const run = await loadThreadRun(deps, ctx);
  const q = parseInput(CancelQuery, ctx.query, 'query');
  const wait = q.wait === '1' || q.wait === 'true' || q.action === 'rollback';
  let current = run;
  if (!FINISHED_STATUSES.includes(run.status)) {
    await deps.turns.cancel(run, 'interrupted');
    if (wait) current = await waitForRun(deps, run, AbortSignal.timeout(CANCEL_SETTLE_S * 1000));
  }
  if (q.action === 'rollback') await rollback(deps, current);
  ctx.status = wait ? 204 : 202;
}

/**
 * Start a run on the thread of the path, or (stateless) on a new thread
 * seeded with the input's history.
 */
async function startRun(deps: ApiDeps, ctx: ApiContext, stateless: boolean) {
  const body = parseInput(RunBody, requestBody(ctx), 'run request');
  const assistant = resolveAssistant(body.assistant_id);
  const { system, turn, history } = splitMessages(body.input.messages);
  if (turn.length === 0 || turn.every((m) => m.content.trim() === ''))
    throw new InvalidRequestError('input.messages must end with a non-empty human message');
  const model = servedModel(deps.models, undefined);
  const tenantId = ctx.state.principal.tenantId;
  let sessionId: string | undefined;
  if (!stateless) {
    sessionId = uuidParam((ctx.params as Record<string, string>).id, 'thread id', 'thread_id');
    const existing = await getSession(deps.pool, tenantId, sessionId);
    if (!existing && body.if_not_exists !== 'create') throw new NotFoundError('thread');
    if (history.length)
      throw new InvalidRequestError(
        'on an existing thread, input.messages may hold only new human and system messages',
      );
  }
  const userId = callerUserId(ctx);
  // `rollback` stops the running turn like `interrupt`; its run is then removed.
  const strategy =
    body.multitask_strategy === 'rollback' ? 'interrupt' : (body.multitask_strategy ?? 'reject');
  const { run } = await deps.turns.start({
    tenantId,
    userId,
    sessionId,
    seedHistory: stateless ? history : undefined,
    input: {
      messages: turn,
      system,
      agent: assistant.name,
      agent_protocol: {
        assistant_id: body.assistant_id,
        metadata: body.metadata ?? {},
        multitask_strategy: body.multitask_strategy ?? 'reject',
        stream_mode: modesOf(body.stream_mode),
      },
    },
    model,
    strategy,
    idempotencyKey: idempotencyKey(ctx),
    requestFingerprint: { route: 'ap.runs', sessionId, body },
    admit: (tx) => checkConcurrentTurns(tx, deps.config.rateLimits, ctx.state.principal, userId),
  });
  deps.metrics.turnsStarted.inc();
  return { run, modes: modesOf(body.stream_mode) };
}

function runModes(run: RunRow): StreamMode[] {
  return (run.input.agent_protocol?.stream_mode as StreamMode[] | undefined) ?? ['values'];
}

/** Where the run is: `Content-Location` names it, `Location` is its stream (the SDK reconnects there). */
function runHeaders(run: RunRow): Record<string, string> {
  const path = `/threads/${run.session_id}/runs/${run.id}`;
  return { 'Content-Location': path, 'X-Run-Id': run.id, 'X-Session-Id': run.session_id! };
}

async function streamRun(
  ctx: ApiContext,
  deps: ApiDeps,
  run: RunRow,
  modes: StreamMode[],
  startingAfter: number,
): Promise<void> {
  // The state the run starts from; the whole log is rendered every time, so ids are stable.
  const prior = (await itemsBeforeRun(deps.pool, run.session_id!, run.id)).map(langGraphMessage);
  const renderer = new LangGraphEventRenderer(run, prior, modes, startingAfter);
  const headers = runHeaders(run);
  await pipeRunEvents(ctx, deps, {
    run,
    afterSeq: 0,
    headers: { ...headers, Location: `${headers['Content-Location']}/stream` },
    preamble: renderer.start(),
    render: (event) => renderer.render(event),
  });
}

/** What `wait` and `join` answer: the thread's values, or LangGraph's error object. */
async function finalValues(deps: ApiDeps, run: RunRow) {
  if (run.status === 'failed')
    return {
      __error__: {
        error: run.error?.code ?? 'error',
        message: run.error?.message ?? 'the run failed',
      },
    };
  return { messages: await threadMessages(deps, run.session_id!, run.id) };
}

/** The run of the path, on the thread of the path, in the caller's tenant. */
async function loadThreadRun(deps: ApiDeps, ctx: ApiContext): Promise<RunRow> {
  const session: SessionRow = await loadThread(deps, ctx);
  const runId = uuidParam((ctx.params as Record<string, string>).run_id, 'run id', 'run_id');
  const run = await getRun(deps.pool, session.tenant_id, runId);
  if (!run || run.session_id !== session.id || run.kind !== 'turn') throw new NotFoundError('run');
  return run;
}

/** `action=rollback`: the stopped run and what it added to the thread are removed. */
async function rollback(deps: ApiDeps, run: RunRow): Promise<void> {
  if (!FINISHED_STATUSES.includes(run.status))
    throw new ConflictError('run_in_progress', 'the run did not stop in time to be rolled back');
  await withTransaction(deps.pool, async (tx) => {
    await tx.query('delete from messages where run_id = $1', [run.id]);
    await deleteRun(tx, run.id);
  });
}
