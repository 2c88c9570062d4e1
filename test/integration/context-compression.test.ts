import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { insertMessage } from '../../src/db/messages';
import { LocalEmbedder } from '../../src/embeddings';
import { buildTurnContext } from '../../src/prompt/turn-context';
import { countMessageTokens, countToolTokens, REPLY_PRIMING } from '../../src/prompt/token-count';
import type { ChatMessage, ChatTool } from '../../src/providers/stream-chat';
import { createLookupTool } from '../../src/tools/lookup-tool';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

const BUDGET = 6000;

/** Alternating roles: user first. */
const roleOf = (i: number): 'user' | 'assistant' => (i % 2 ? 'assistant' : 'user');

/**
 * History compression with lookup hints, the token budget, and
 * `GET /v1/sessions/{id}/context` being exactly what the provider receives.
 */
describe('context and history compression', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });
  const api = () => request(platform.url);

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
      EMBEDDINGS_PROVIDER: 'local',
      PROMPT_TOKEN_BUDGET: String(BUDGET),
      // The fake provider answers memory calls with echoes: keep them out of its queue.
      MEMORY_EXTRACTION: 'false',
    });
  });
  afterAll(async () => {
    await platform?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  async function sessionWith(
    messages: { role: 'user' | 'assistant'; content: string }[],
    userId: string | null = null,
  ) {
    const id = randomUUID();
    await platform.pool.query('insert into sessions (id, tenant_id, user_id) values ($1, $2, $3)', [
      id,
      DEFAULT_TENANT_ID,
      userId,
    ]);
    const rows = [];
    for (const m of messages) {
      rows.push(
        await insertMessage(platform.pool, {
          id: randomUUID(),
          tenantId: DEFAULT_TENANT_ID,
          sessionId: id,
          runId: null,
          role: m.role,
          content: m.content,
          idemKey: null,
        }),
      );
    }
    return { id, rows };
  }

  const paragraph = (topic: string, n = 120) =>
    Array.from({ length: n }, (_, i) => `${topic}${i}`).join(' ');

  it('shortens old long messages with a lookup hint; the lookup tool returns the full text', async () => {
    const long = paragraph('alpha');
    const { id: sessionId, rows } = await sessionWith([
      { role: 'user', content: long },
      { role: 'assistant', content: paragraph('beta') },
      ...Array.from({ length: 10 }, (_, i) => ({
        role: roleOf(i),
        content: `short ${i}`,
      })),
    ]);
    const context = await api().get(`/v1/sessions/${sessionId}/context`).set(auth()).expect(200);
    const history = context.body.messages.slice(1) as ChatMessage[];
    expect(history[0].content).toContain(`[... truncated — lookup message ${rows[0].id} ...]`);
    expect((history[0].content as string).length).toBeLessThan(450);
    expect(context.body.parts.history).toMatchObject({ messages: 12, omitted: 0, truncated: 2 });

    // Round trip: the model calls lookup with the hinted id and gets the whole message back.
    fake.enqueue(
      { kind: 'toolCalls', calls: [{ name: 'lookup', arguments: { id: rows[0].id } }] },
      { kind: 'text', text: 'read it' },
    );
    const turn = await api()
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth())
      .send({ content: 'what did I say first?', model: 'fake-model' })
      .expect(202);
    const run = await api()
      .get(`/v1/runs/${turn.body.run.id}/wait?timeout=60`)
      .set(auth())
      .expect(200);
    expect(run.body.status).toBe('succeeded');
    const [, second] = fake
      .chatRequests()
      .map((r) => (r.body as { messages: ChatMessage[] }).messages);
    const toolMessage = second.find((m) => m.role === 'tool')!;
    expect(JSON.parse(toolMessage.content as string)).toMatchObject({
      type: 'message',
      id: rows[0].id,
      content: long,
    });

    // And directly, scoped to the tenant.
    const tool = createLookupTool(platform.pool);
    const ctx = { tenantId: DEFAULT_TENANT_ID, sessionId, runId: randomUUID(), userId: null };
    expect(await tool.execute({ id: rows[0].id }, ctx)).toMatchObject({ content: long });
    expect(
      await tool.execute({ id: rows[0].id }, { ...ctx, tenantId: randomUUID() }),
    ).toMatchObject({ type: 'not_found' });
  });

  it('keeps a 500-message session within the token budget, and the provider gets exactly the previewed context', async () => {
    const messages = Array.from({ length: 500 }, (_, i) => ({
      role: roleOf(i),
      content: `${i % 2 ? 'answer' : 'question'} ${i}: ${paragraph(`t${i}_`, i % 2 ? 150 : 30)}`,
    }));
    const { id: sessionId } = await sessionWith(messages);
    const preview = await api()
      .get(`/v1/sessions/${sessionId}/context`)
      .query({ message: 'and now?', model: 'fake-model' })
      .set(auth())
      .expect(200);
    expect(preview.body.budget_tokens).toBe(BUDGET);
    expect(preview.body.total_tokens).toBeLessThanOrEqual(BUDGET);
    expect(preview.body.over_budget).toBe(false);
    expect(preview.body.parts.history.omitted).toBeGreaterThan(0);

    fake.enqueue({ kind: 'text', text: 'fine' });
    const turn = await api()
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth())
      .send({ content: 'and now?', model: 'fake-model' })
      .expect(202);
    await api().get(`/v1/runs/${turn.body.run.id}/wait?timeout=60`).set(auth()).expect(200);
    const sent = fake.chatRequests()[0].body as { messages: ChatMessage[]; tools: ChatTool[] };
    const tokens =
      sent.messages.reduce((n, m) => n + countMessageTokens(m, 'fake-model'), 0) +
      countToolTokens(sent.tools, 'fake-model') +
      REPLY_PRIMING;
    expect(tokens).toBeLessThanOrEqual(BUDGET);
    // Exactly the preview.
    expect(sent.messages).toEqual(preview.body.messages);
    expect(tokens).toBe(preview.body.total_tokens);
  });

  it('recalls memories and offers the profile as a lookup hint, or injects it when configured', async () => {
    const user = `u-${randomUUID()}`;
    await api()
      .post('/v1/memories?wait=true')
      .set(auth())
      .send({ user_id: user, text: 'I play the cello in an amateur orchestra' })
      .expect(200);
    await platform.pool.query(
      'insert into user_profiles (tenant_id, user_id, profile) values ($1, $2, $3)',
      [DEFAULT_TENANT_ID, user, JSON.stringify({ interests: ['music'] })],
    );
    const { id: sessionId } = await sessionWith([], user);

    const context = await api()
      .get(`/v1/sessions/${sessionId}/context`)
      .query({ message: 'recommend a cello concerto' })
      .set(auth())
      .expect(200);
    expect(context.body.parts.profile).toMatchObject({
      mode: 'hint',
      text: `User: ${user}. To load the user's profile: lookup user:${user}`,
    });
    expect(context.body.parts.memories.items.map((m: { content: string }) => m.content)).toEqual([
      'I play the cello in an amateur orchestra',
    ]);
    expect(context.body.parts.memories.tokens).toBeGreaterThan(0);
    const system = context.body.messages[0].content as string;
    expect(system).toContain(`lookup user:${user}`);
    expect(system).not.toContain('"interests"');

    const tool = createLookupTool(platform.pool);
    const ctx = { tenantId: DEFAULT_TENANT_ID, sessionId, runId: randomUUID(), userId: user };
    expect(await tool.execute({ id: `user:${user}` }, ctx)).toMatchObject({
      type: 'user_profile',
      profile: { interests: ['music'] },
    });
    expect(
      await tool.execute({ id: `user:${user}` }, { ...ctx, userId: 'someone-else' }),
    ).toMatchObject({ type: 'not_found' });
    const memoryId = context.body.parts.memories.items[0].id as string;
    expect(await tool.execute({ id: memoryId }, ctx)).toMatchObject({
      type: 'memory',
      current: true,
      history: [{ event: 'ADD' }],
    });
    expect(await tool.execute({ id: memoryId }, { ...ctx, userId: 'someone-else' })).toMatchObject({
      type: 'not_found',
    });

    const injected = await buildTurnContext(
      {
        pool: platform.pool,
        config: {
          ...platform.config,
          prompt: { ...platform.config.prompt, autoInjectUserContext: true },
        },
        embedder: new LocalEmbedder(platform.config.embeddingDim),
      },
      {
        tenantId: DEFAULT_TENANT_ID,
        sessionId,
        userId: user,
        model: 'fake-model',
        turnSystem: [],
        pendingUserMessage: 'hi',
      },
    );
    expect(injected.parts.profile.mode).toBe('injected');
    expect(injected.messages[0].content).toContain('User profile: {"interests":["music"]}');
  });

  it("404s the context of another tenant's session", async () => {
    await api().get(`/v1/sessions/${randomUUID()}/context`).set(auth()).expect(404);
    await api().get('/v1/sessions/nope/context').set(auth()).expect(400);
  });
});
