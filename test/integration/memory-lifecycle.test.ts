import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { runMemories } from '../../src/cli/memories';
import { createApiKey } from '../helpers/test-secrets';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { memoryWorkflowId } from '../../workflows/memory.workflow';
import { startPlatform, workflowBundle, type Platform } from '../helpers/platform';

const LABELLED = JSON.parse(
  readFileSync(path.resolve(__dirname, '../fixtures/memory-search.json'), 'utf8'),
) as {
  memories: Record<string, string>;
  queries: { query: string; expect: string }[];
};

/**
 * Memories end to end on the simulator (its memory calls are deterministic):
 * extraction → update → delete with history, dedupe, the API, isolation
 * between users and tenants, and extraction after a turn.
 */
describe('memories', () => {
  let platform: Platform;
  let otherTenantKey: string;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });
  const api = () => request(platform.url);

  beforeAll(async () => {
    platform = await startPlatform({ LLM_BASE_URL: '', OPENAI_API_KEY: '' });
    const tenant = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [tenant, 'other']);
    otherTenantKey = (await createApiKey(platform.pool, tenant, { name: 'other' })).key;
  });
  afterAll(async () => {
    await platform?.close();
  });

  type Result = {
    id: string | null;
    memory: string;
    event: string;
    previous_memory?: string;
    reason: string;
  };

  async function add(
    user: string,
    body: Record<string, unknown>,
    key = platform.apiKey,
  ): Promise<Result[]> {
    const res = await api()
      .post('/v1/memories?wait=true')
      .set({ Authorization: `Bearer ${key}` })
      .send({ user_id: user, ...body });
    expect(res.status).toBe(200);
    return res.body.results as Result[];
  }
  const say = (user: string, content: string) =>
    add(user, { messages: [{ role: 'user', content }] });

  it('adds, deduplicates, updates and deletes, keeping the history', async () => {
    const user = `u-${randomUUID()}`;
    const first = await say(user, 'Hi! I live in Berlin. I love espresso.');
    expect(first.map((r) => [r.event, r.memory])).toEqual([
      ['ADD', 'I live in Berlin'],
      ['ADD', 'I love espresso'],
    ]);
    const home = first[0].id!;

    // The same facts again: never a duplicate, never a delete (mem0's known failure).
    const again = await say(user, 'I live in Berlin. I love espresso!');
    expect(again.map((r) => [r.event, r.reason, r.id])).toEqual([
      ['NOOP', 'duplicate', home],
      ['NOOP', 'duplicate', first[1].id],
    ]);

    const moved = await say(user, 'I live in Munich now.');
    expect(moved).toEqual([
      expect.objectContaining({
        event: 'UPDATE',
        id: home,
        memory: 'I live in Munich now',
        previous_memory: 'I live in Berlin',
      }),
    ]);
    const current = await api().get(`/v1/memories/${home}`).set(auth()).expect(200);
    expect(current.body).toMatchObject({
      id: home,
      object: 'memory',
      user_id: user,
      memory: 'I live in Munich now',
      valid_to: null,
    });

    const gone = await say(user, 'I no longer live in Munich.');
    expect(gone).toEqual([expect.objectContaining({ event: 'DELETE', id: home })]);
    await api().get(`/v1/memories/${home}`).set(auth()).expect(404);

    const history = await api().get(`/v1/memories/${home}/history`).set(auth()).expect(200);
    expect(
      history.body.data.map(
        (c: { event: string; previous_memory: string | null; memory: string | null }) => [
          c.event,
          c.previous_memory,
          c.memory,
        ],
      ),
    ).toEqual([
      ['ADD', null, 'I live in Berlin'],
      ['UPDATE', 'I live in Berlin', 'I live in Munich now'],
      ['DELETE', 'I live in Munich now', null],
    ]);
    // The archived version's history is its memory's.
    const archived = history.body.data[1].archived_id as string;
    const viaArchive = await api().get(`/v1/memories/${archived}/history`).set(auth()).expect(200);
    expect(viaArchive.body.memory_id).toBe(home);

    const list = await api().get('/v1/memories').query({ user_id: user }).set(auth()).expect(200);
    expect(list.body.data.map((m: { memory: string }) => m.memory)).toEqual(['I love espresso']);
  });

  it('adds plain text as one fact, patches, deletes and clears through the API', async () => {
    const user = `u-${randomUUID()}`;
    const [added] = await add(user, { text: 'Prefers tea over coffee' });
    expect(added).toMatchObject({ event: 'ADD', memory: 'Prefers tea over coffee' });
    const id = added.id!;

    const patched = await api()
      .patch(`/v1/memories/${id}`)
      .set(auth())
      .send({ text: 'Prefers green tea', metadata: { source: 'test' } })
      .expect(200);
    expect(patched.body).toMatchObject({
      id,
      memory: 'Prefers green tea',
      metadata: { source: 'test' },
    });
    const [second] = await add(user, { text: 'Has two cats' });
    // Patching to another memory's text would duplicate it.
    const clash = await api()
      .patch(`/v1/memories/${second.id}`)
      .set(auth())
      .send({ text: 'prefers green tea.' })
      .expect(409);
    expect(clash.body.error.code).toBe('conflict');

    const history = await api().get(`/v1/memories/${id}/history`).set(auth()).expect(200);
    expect(
      history.body.data.map((c: { event: string; source: string }) => [c.event, c.source]),
    ).toEqual([
      ['ADD', 'api'],
      ['UPDATE', 'api'],
    ]);

    await api()
      .delete(`/v1/memories/${second.id}`)
      .set(auth())
      .expect(200, { id: second.id, object: 'memory', deleted: true });
    await api().delete(`/v1/memories/${second.id}`).set(auth()).expect(404);

    const cleared = await api()
      .delete('/v1/memories')
      .query({ user_id: user })
      .set(auth())
      .expect(200);
    expect(cleared.body).toEqual({ object: 'memory.clear', user_id: user, deleted: 1 });
    const list = await api().get('/v1/memories').set(auth()).set('X-User-Id', user).expect(200);
    expect(list.body.data).toEqual([]);
    await api().get(`/v1/memories/${id}/history`).set(auth()).expect(404);
  });

  it('validates input in the contract shape', async () => {
    const missingUser = await api()
      .post('/v1/memories')
      .set(auth())
      .send({ text: 'x' })
      .expect(400);
    expect(missingUser.body.error).toMatchObject({
      code: 'invalid_request',
      type: 'invalid_request_error',
    });
    const both = await api()
      .post('/v1/memories')
      .set(auth())
      .send({ text: 'x', messages: [{ role: 'user', content: 'y' }], user_id: 'u' })
      .expect(400);
    expect(both.body.error.message).toContain('exactly one of messages or text');
    await api().get('/v1/memories/not-a-uuid').set(auth()).expect(400);
    await api().get(`/v1/memories/${randomUUID()}`).set(auth()).expect(404);
    await api().get('/v1/memories').set(auth()).expect(400);
    await api()
      .post('/v1/memories/search')
      .set(auth())
      .send({ query: '', user_id: 'u' })
      .expect(400);
  });

  it('starts a run for an asynchronous add and records it', async () => {
    const user = `u-${randomUUID()}`;
    const res = await api()
      .post('/v1/memories')
      .set(auth())
      .send({ user_id: user, text: 'Speaks Portuguese' })
      .expect(202);
    expect(res.body).toMatchObject({
      object: 'memory.add',
      results: null,
      run: { kind: 'memory' },
    });
    const run = await api()
      .get(`/v1/runs/${res.body.run_id}/wait?timeout=30`)
      .set(auth())
      .expect(200);
    expect(run.body.status).toBe('succeeded');
    const list = await api().get('/v1/memories').query({ user_id: user }).set(auth()).expect(200);
    expect(list.body.data.map((m: { memory: string }) => m.memory)).toEqual(['Speaks Portuguese']);
  });

  it('never shares memories across users or tenants', async () => {
    const alice = `alice-${randomUUID()}`;
    const bob = `bob-${randomUUID()}`;
    const [mine] = await add(alice, { text: 'My passport number is X123' });
    const id = mine.id!;

    // Bob: the same fact is a new memory of his own, not a duplicate of Alice's.
    const [his] = await add(bob, { text: 'My passport number is X123' });
    expect(his.event).toBe('ADD');
    expect(his.id).not.toBe(id);
    const bobSearch = await api()
      .post('/v1/memories/search')
      .set(auth())
      .send({ query: 'passport number', user_id: bob })
      .expect(200);
    expect(bobSearch.body.data.map((m: { id: string }) => m.id)).toEqual([his.id]);
    // Naming another user hides Alice's memory.
    await api().get(`/v1/memories/${id}`).set(auth()).set('X-User-Id', bob).expect(404);
    await api().delete(`/v1/memories/${id}`).set(auth()).set('X-User-Id', bob).expect(404);
    await api().get(`/v1/memories/${id}`).set(auth()).set('X-User-Id', alice).expect(200);

    // Another tenant sees nothing, even with Alice's user id.
    const other = { Authorization: `Bearer ${otherTenantKey}` };
    await api().get(`/v1/memories/${id}`).set(other).expect(404);
    await api().get(`/v1/memories/${id}/history`).set(other).expect(404);
    await api().patch(`/v1/memories/${id}`).set(other).send({ text: 'hacked' }).expect(404);
    const list = await api().get('/v1/memories').query({ user_id: alice }).set(other).expect(200);
    expect(list.body.data).toEqual([]);
    const search = await api()
      .post('/v1/memories/search')
      .set(other)
      .send({ query: 'passport number', user_id: alice })
      .expect(200);
    expect(search.body.data).toEqual([]);
    const cleared = await api()
      .delete('/v1/memories')
      .query({ user_id: alice })
      .set(other)
      .expect(200);
    expect(cleared.body.deleted).toBe(0);
    await api().get(`/v1/memories/${id}`).set(auth()).expect(200);
  });

  it('extracts memories after a turn and recalls them in the next turn', async () => {
    const user = `u-${randomUUID()}`;
    const session = await api()
      .post('/v1/sessions')
      .set(auth())
      .send({ user_id: user })
      .expect(201);
    const sessionId = session.body.id as string;
    const turn = await api()
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth())
      .send({ content: 'I have a dog called Rex. What should I feed him?' })
      .expect(202);
    const run = await api()
      .get(`/v1/runs/${turn.body.run.id}/wait?timeout=60`)
      .set(auth())
      .expect(200);
    expect(run.body.status).toBe('succeeded');

    let memories: { id: string; memory: string; source_run_id: string }[] = [];
    for (let i = 0; i < 100 && memories.length === 0; i++) {
      const list = await api().get('/v1/memories').query({ user_id: user }).set(auth()).expect(200);
      memories = list.body.data;
      if (memories.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(memories.map((m) => [m.memory, m.source_run_id])).toEqual([
      ['I have a dog called Rex', turn.body.run.id],
    ]);

    // The next turn's prompt carries it, with its id.
    const context = await api()
      .get(`/v1/sessions/${sessionId}/context`)
      .query({ message: 'Does my dog Rex need a walk?' })
      .set(auth())
      .expect(200);
    expect(context.body.parts.memories.items).toEqual([
      expect.objectContaining({ id: memories[0].id, content: 'I have a dog called Rex' }),
    ]);
    expect(context.body.messages[0].content).toContain(
      `- I have a dog called Rex (${memories[0].id})`,
    );
    expect(context.body.user_id).toBe(user);

    // The turn that started the extraction (patched 'memory-v1') replays deterministically.
    const temporal = new Client({
      connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
    });
    try {
      const turnHistory = await temporal.workflow
        .getHandle(turnWorkflowId(DEFAULT_TENANT_ID, turn.body.run.id))
        .fetchHistory();
      const memoryHistory = await temporal.workflow
        .getHandle(memoryWorkflowId(DEFAULT_TENANT_ID, turn.body.run.id))
        .fetchHistory();
      const results: { workflowId: string; error?: unknown }[] = [];
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: { codePath: await workflowBundle() } },
        [
          { workflowId: 'turn-with-memory', history: turnHistory },
          { workflowId: 'memory', history: memoryHistory },
        ],
      )) {
        results.push(result);
      }
      expect(results.map((r) => [r.workflowId, r.error === undefined])).toEqual([
        ['turn-with-memory', true],
        ['memory', true],
      ]);
      expect(
        turnHistory.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
      ).toBe(true);
    } finally {
      await temporal.connection.close();
    }
  });

  it('lists, searches and clears from the CLI', async () => {
    const user = `cli-${randomUUID()}`;
    const [tea] = await add(user, { text: 'Drinks oolong tea every morning' });
    await add(user, { text: 'Owns a red bicycle' });
    const config = { ...platform.config, client: { url: platform.url, apiKey: platform.apiKey } };
    const cli = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const code = await runMemories(argv, config, {
        out: { write: (t: string) => (out += t) },
        err: { write: (t: string) => (err += t) },
      });
      return { code, out, err };
    };
    const list = await cli('list', '--user', user);
    expect(list.code).toBe(0);
    expect(list.out.trim().split('\n')).toHaveLength(2);
    const search = await cli('search', '--user', user, '--limit', '1', 'oolong', 'tea');
    expect(search.out).toMatch(
      new RegExp(`^${tea.id}  0\\.\\d{3}  Drinks oolong tea every morning\n$`),
    );
    expect((await cli('clear', '--user', user)).out).toBe(`cleared 2 memories of ${user}\n`);
    expect(JSON.parse((await cli('list', '--user', user, '--json')).out).data).toEqual([]);
    expect((await cli('list')).code).toBe(2);
    expect((await cli('list', '--user', user, '--limit', '0')).code).toBe(2);
  });

  it('search ranks the relevant memory first on a labelled set', async () => {
    const user = `u-${randomUUID()}`;
    const ids: Record<string, string> = {};
    for (const [label, text] of Object.entries(LABELLED.memories)) {
      const [result] = await add(user, { text });
      expect(result.event).toBe('ADD');
      ids[result.id!] = label;
    }
    // Noise of another user must never surface.
    await add(`noise-${randomUUID()}`, { text: 'I am allergic to cats and peanuts' });
    let hits = 0;
    for (const { query, expect: label } of LABELLED.queries) {
      const res = await api()
        .post('/v1/memories/search')
        .set(auth())
        .send({ query, user_id: user, limit: 3 })
        .expect(200);
      const top = res.body.data[0] as { id: string; score: number };
      if (ids[top.id] === label) hits++;
      else process.stderr.write(`search "${query}": expected ${label}, got ${ids[top.id]}\n`);
      for (const m of res.body.data as { id: string }[]) expect(ids[m.id]).toBeDefined();
    }
    expect(hits).toBe(LABELLED.queries.length);
  });
});
