import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import { startPlatform, type Platform } from '../helpers/platform';

type ToolResult = { isError?: boolean; content: { type: string; text: string }[] };

/**
 * The official MCP TypeScript SDK client against `/v1/mcp` (streamable HTTP,
 * stateless), on the simulator model with local embeddings.
 */
describe('MCP server', () => {
  let platform: Platform;
  const clients: Client[] = [];

  beforeAll(async () => {
    platform = await startPlatform({ EMBEDDINGS_PROVIDER: 'local' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await platform?.close();
  });

  async function connect(key = platform.apiKey, headers: Record<string, string> = {}) {
    const client = new Client({ name: 'reverie-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${platform.url}/v1/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${key}`, ...headers } },
      }),
    );
    clients.push(client);
    return client;
  }

  const parsed = <T>(r: unknown): T => JSON.parse((r as ToolResult).content[0].text) as T;

  it('lists its tools and resource templates', async () => {
    const client = await connect();
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(
      ['ask', 'ingest_file', 'lookup', 'recall', 'remember', 'search'].sort(),
    );
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'reverie://sessions/{id}',
      'reverie://users/{id}/profile',
    ]);
  });

  it('asks durable turns, continues a session, and reads it as a resource', async () => {
    const client = await connect();
    const first = parsed<{ answer: string; run_id: string; session_id: string; status: string }>(
      await client.callTool({
        name: 'ask',
        arguments: { question: 'My favourite bird is the kea.' },
      }),
    );
    expect(first.status).toBe('succeeded');
    expect(first.answer.length).toBeGreaterThan(0);
    const second = parsed<{ session_id: string; run_id: string }>(
      await client.callTool({
        name: 'ask',
        arguments: { question: 'Which bird did I name?', session_id: first.session_id },
      }),
    );
    expect(second.session_id).toBe(first.session_id);
    const resource = await client.readResource({ uri: `reverie://sessions/${first.session_id}` });
    const session = JSON.parse((resource.contents[0] as { text: string }).text) as {
      messages: { role: string; content: string }[];
    };
    // The simulator's turns may call a tool first; the users' messages are what they said.
    expect(session.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
      'My favourite bird is the kea.',
      'Which bird did I name?',
    ]);
    expect(session.messages.at(-1)!.role).toBe('assistant');
    const run = parsed<{ status: string; session_id: string }>(
      await client.callTool({ name: 'lookup', arguments: { type: 'run', id: second.run_id } }),
    );
    expect(run).toMatchObject({ status: 'succeeded', session_id: first.session_id });
  });

  it('answers a retried ask with the same idempotency key from the same turn', async () => {
    const client = await connect();
    const args = { question: 'once only', idempotency_key: `k-${crypto.randomUUID()}` };
    const a = parsed<{ run_id: string }>(await client.callTool({ name: 'ask', arguments: args }));
    const b = parsed<{ run_id: string }>(await client.callTool({ name: 'ask', arguments: args }));
    expect(b.run_id).toBe(a.run_id);
    const { rows } = await platform.pool.query(
      `select (select count(*)::int from runs where session_id = r.session_id) as runs,
              (select count(*)::int from messages where run_id = r.id and role = 'user') as asked
       from runs r where r.id = $1`,
      [a.run_id],
    );
    expect(rows[0]).toEqual({ runs: 1, asked: 1 });
  });

  it('ingests a file and finds it with search; remembers and recalls a fact', async () => {
    const client = await connect();
    const word = `quokka${crypto.randomUUID().slice(0, 6)}`;
    const ingested = parsed<{ file_id: string; run_id: string }>(
      await client.callTool({
        name: 'ingest_file',
        arguments: { filename: 'notes.md', content: `# Notes\n\nThe ${word} lives on Rottnest.\n` },
      }),
    );
    await request(platform.url)
      .get(`/v1/runs/${ingested.run_id}/wait?timeout=60`)
      .set('Authorization', `Bearer ${platform.apiKey}`)
      .expect(200);
    const found = parsed<{ hits: { type: string; text: string }[] }>(
      await client.callTool({ name: 'search', arguments: { query: word, types: ['chunks'] } }),
    );
    expect(found.hits.some((h) => h.text.includes(word))).toBe(true);

    const user = `mcp-${crypto.randomUUID()}`;
    const remembered = parsed<{ run_id: string }>(
      await client.callTool({
        name: 'remember',
        arguments: { text: 'I live in Wellington and I love tramping.', user_id: user },
      }),
    );
    expect(remembered.run_id).toBeDefined();
    const recalled = parsed<{ memories: { content: string }[] }>(
      await client.callTool({ name: 'recall', arguments: { query: 'Wellington', user_id: user } }),
    );
    expect(recalled.memories.length).toBeGreaterThan(0);
  });

  it('checks each tool against the key scopes and refuses what is not MCP in the contract shape', async () => {
    const chatOnly = await createApiKey(platform.pool, DEFAULT_TENANT_ID, { scopes: ['chat'] });
    const client = await connect(chatOnly.key);
    const denied = (await client.callTool({
      name: 'recall',
      arguments: { query: 'x', user_id: 'u' },
    })) as ToolResult;
    expect(denied.isError).toBe(true);
    expect(denied.content[0].text).toContain('"memories" scope');

    const filesOnly = await createApiKey(platform.pool, DEFAULT_TENANT_ID, { scopes: ['files'] });
    const forbidden = await request(platform.url)
      .post('/v1/mcp')
      .set('Authorization', `Bearer ${filesOnly.key}`)
      .set('Accept', 'application/json, text/event-stream')
      .send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(forbidden.status).toBe(403);

    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    const bad = await request(platform.url)
      .post('/v1/mcp')
      .set(auth)
      .set('Accept', 'application/json, text/event-stream')
      .send({ hello: 'world' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const get = await request(platform.url).get('/v1/mcp').set(auth);
    expect(get.status).toBe(405);
    expect(get.body.error.code).toBe('method_not_allowed');
  });
});
