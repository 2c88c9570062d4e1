import { Readable } from 'node:stream';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { hasScope, type Principal } from '../../auth/principal';
import { getUserProfile } from '../../dreaming/profile';
import { getMessage, sessionItems } from '../../db/messages';
import { getRun } from '../../db/runs';
import { getSession } from '../../db/sessions';
import { AppError, NotFoundError } from '../../errors';
import { checkConcurrentTurns } from '../../limits/concurrent-turns';
import { getMemory, searchMemories } from '../../memory/memory-store';
import { hybridSearch, SEARCH_TYPES } from '../../search/hybrid-search';
import type { ApiDeps } from '../context';
import { messageJson, runJson } from '../render/run-json';
import { waitForRun } from '../routes/chat-completions';
import { memoryJson } from '../routes/memories';
import { servedModel } from '../served-model';

/** Who calls: the request's principal and the end user it acts for. */
export interface McpCaller {
  principal: Principal;
  /** From the credential (JWT `sub`) or `X-User-Id`; a tool's `user_id` fills in when absent. */
  userId: string | null;
}

type Scope = 'chat' | 'files' | 'memories';

const UserId = z.string().trim().min(1).max(256);
const ASK_WAIT_S = 300;

function result(value: unknown): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    structuredContent: value as Record<string, unknown>,
  };
}

/** What every tool needs: the deps, the caller's tenant and user, the scope check. */
interface ToolContext {
  deps: ApiDeps;
  caller: McpCaller;
  tenantId: string;
  need: (scope: Scope) => void;
  userOf: (given?: string) => string | null;
  requireUser: (given?: string) => string;
}

/**
 * reverie as a Model Context Protocol server: tools over search, memory,
 * ingestion and durable turns, and resources for sessions and profiles.
 * Built per request (the transport is stateless); every tool acts in the
 * caller's tenant and checks the scope its REST route would need.
 */
export function buildMcpServer(deps: ApiDeps, caller: McpCaller): McpServer {
  const server = new McpServer({ name: 'reverie', version: '0.1.0' });
  const userOf = (given?: string) => caller.userId ?? given ?? null;
  const tools: ToolContext = {
    deps,
    caller,
    tenantId: caller.principal.tenantId,
    need: (scope) => {
      if (!hasScope(caller.principal, scope))
        throw new AppError(403, 'forbidden', `this key lacks the "${scope}" scope`);
    },
    userOf,
    requireUser: (given) => {
      const user = userOf(given);
      if (!user) throw new AppError(400, 'invalid_request', 'user_id is required');
      return user;
    },
  };
  registerKnowledgeTools(server, tools);
  registerAskTool(server, tools);
  registerMemoryTools(server, tools);
  registerResources(server, tools);
  return server;
}

/** search, lookup, ingest_file. */
function registerKnowledgeTools(
  server: McpServer,
  { deps, caller, tenantId, need, userOf }: ToolContext,
): void {
  server.registerTool(
    'search',
    {
      description: 'Hybrid search over ingested files, memories, moments and past messages.',
      inputSchema: {
        query: z.string().trim().min(1).max(2000),
        types: z.array(z.enum(SEARCH_TYPES)).min(1).optional(),
        limit: z.number().int().min(1).max(50).optional(),
        user_id: UserId.optional(),
      },
    },
    async (args) => {
      need('files');
      const hits = await hybridSearch(deps.pool, deps.embedder, {
        tenantId,
        userId: userOf(args.user_id),
        q: args.query,
        types: args.types ?? SEARCH_TYPES,
        limit: args.limit ?? 10,
      });
      return result({ query: args.query, hits });
    },
  );

  server.registerTool(
    'lookup',
    {
      description: 'Fetch one object by id: a session (with its messages), message, memory or run.',
      inputSchema: { type: z.enum(['session', 'message', 'memory', 'run']), id: z.string().uuid() },
    },
    async ({ type, id }) => {
      need(type === 'memory' ? 'memories' : 'chat');
      return result(await lookup(deps, tenantId, type, id));
    },
  );

  server.registerTool(
    'ingest_file',
    {
      description:
        'Ingest a text document (txt, md, html, json, csv) for search; returns the file and its ingest run.',
      inputSchema: {
        filename: z.string().trim().min(1).max(255),
        content: z.string().min(1).max(5_000_000),
        content_type: z.string().max(100).optional(),
      },
    },
    async (args) => {
      need('files');
      const format = deps.files.format(args.filename, args.content_type);
      const { file, run } = await deps.files.upload({
        tenantId,
        userId: caller.userId,
        sessionId: null,
        filename: args.filename,
        format,
        body: Readable.from(Buffer.from(args.content, 'utf8')),
      });
      return result({ file_id: file.id, run_id: run.id, status: run.status });
    },
  );
}

/** ask: a durable turn, answered when it is done. */
function registerAskTool(
  server: McpServer,
  { deps, caller, tenantId, need, userOf }: ToolContext,
): void {
  server.registerTool(
    'ask',
    {
      description:
        'Ask reverie: runs a durable chat turn (in a session when given) and returns its answer and run id. Retry with the same idempotency_key to get the same turn.',
      inputSchema: {
        question: z.string().trim().min(1).max(200_000),
        session_id: z.string().uuid().optional(),
        model: z.string().min(1).max(200).optional(),
        user_id: UserId.optional(),
        idempotency_key: z.string().min(1).max(255).optional(),
      },
    },
    async (args) => {
      need('chat');
      const model = servedModel(deps.models, args.model);
      const userId = userOf(args.user_id);
      const { run } = await deps.turns.start({
        tenantId,
        userId,
        sessionId: args.session_id,
        input: {
          messages: [{ role: 'user', content: args.question }],
          system: [],
          agent: 'default',
        },
        model,
        strategy: 'enqueue',
        idempotencyKey: args.idempotency_key && `mcp:${args.idempotency_key}`,
        requestFingerprint: { route: 'mcp.ask', args },
        admit: (tx) => checkConcurrentTurns(tx, deps.config.rateLimits, caller.principal, userId),
      });
      const finished = await waitForRun(deps, run, AbortSignal.timeout(ASK_WAIT_S * 1000));
      const answer = finished.message_id
        ? await getMessage(deps.pool, tenantId, finished.message_id)
        : undefined;
      return result({
        answer: answer?.content ?? null,
        status: finished.status,
        run_id: run.id,
        session_id: run.session_id,
        error: finished.error,
      });
    },
  );
}

/** remember, recall. */
function registerMemoryTools(
  server: McpServer,
  { deps, tenantId, need, requireUser }: ToolContext,
): void {
  server.registerTool(
    'remember',
    {
      description: 'Store facts about a user in long-term memory (extracted from the text).',
      inputSchema: { text: z.string().trim().min(1).max(50_000), user_id: UserId.optional() },
    },
    async (args) => {
      need('memories');
      const userId = requireUser(args.user_id);
      const { run } = await deps.memoryExtraction.start({
        tenantId,
        userId,
        input: { text: args.text },
        fingerprint: { route: 'mcp.remember', userId, text: args.text },
      });
      const outcome = await deps.memoryExtraction.outcome(run, 60);
      if (outcome.status === 'failed')
        throw new AppError(502, outcome.error.code, outcome.error.message);
      return result({ run_id: run.id, results: outcome.results });
    },
  );

  server.registerTool(
    'recall',
    {
      description: "Search a user's long-term memories by meaning.",
      inputSchema: {
        query: z.string().trim().min(1).max(2000),
        user_id: UserId.optional(),
        limit: z.number().int().min(1).max(50).optional(),
      },
    },
    async (args) => {
      need('memories');
      const userId = requireUser(args.user_id);
      const [vector] = await deps.embedder.embed([args.query]);
      const rows = await searchMemories(deps.pool, {
        tenantId,
        userId,
        vector,
        limit: args.limit ?? 10,
      });
      return result({ memories: rows.map(memoryJson) });
    },
  );
}

/** Sessions and profiles as resources. */
function registerResources(server: McpServer, { deps, tenantId, need }: ToolContext): void {
  server.registerResource(
    'session',
    new ResourceTemplate('reverie://sessions/{id}', { list: undefined }),
    { description: 'A session and its messages', mimeType: 'application/json' },
    async (uri, { id }) => {
      need('chat');
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify(await lookup(deps, tenantId, 'session', String(id))),
          },
        ],
      };
    },
  );

  server.registerResource(
    'profile',
    new ResourceTemplate('reverie://users/{id}/profile', { list: undefined }),
    { description: 'What dreaming learnt about a user', mimeType: 'application/json' },
    async (uri, { id }) => {
      need('memories');
      const row = await getUserProfile(deps.pool, tenantId, String(id));
      if (!row) throw new NotFoundError('profile');
      const profile = {
        user_id: row.user_id,
        profile: row.profile,
        version: row.version,
        updated_at: row.updated_at.toISOString(),
      };
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(profile) }],
      };
    },
  );
}

async function lookup(deps: ApiDeps, tenantId: string, type: string, id: string): Promise<unknown> {
  const uuid = z.string().uuid().safeParse(id);
  if (!uuid.success) throw new NotFoundError(type);
  switch (type) {
    case 'session': {
      const session = await getSession(deps.pool, tenantId, id);
      if (!session) throw new NotFoundError('session');
      const messages = await sessionItems(deps.pool, session.id);
      return {
        id: session.id,
        title: session.title,
        user_id: session.user_id,
        created_at: session.created_at.toISOString(),
        messages: messages.map(messageJson),
      };
    }
    case 'message': {
      const message = await getMessage(deps.pool, tenantId, id);
      if (!message) throw new NotFoundError('message');
      return messageJson(message);
    }
    case 'memory': {
      const memory = await getMemory(deps.pool, tenantId, id);
      if (!memory) throw new NotFoundError('memory');
      return memoryJson(memory);
    }
    default: {
      const run = await getRun(deps.pool, tenantId, id);
      if (!run) throw new NotFoundError('run');
      return runJson(run, deps.config);
    }
  }
}
