import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { insertRun } from '../../src/db/runs';
import { insertSession } from '../../src/db/sessions';
import { testLogger } from '../helpers/test-logs';
import { OrphanRunSweeper } from '../../src/turns/orphan-sweeper';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

/** Runs recorded but never handed to Temporal are closed; accepted ones are never touched. */
describe('orphan run sweeper', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let temporal: Client;
  let sweeper: OrphanRunSweeper;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'x',
      LLM_MODEL: 'fake-model',
    });
    temporal = new Client({
      connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
    });
    sweeper = new OrphanRunSweeper(platform.pool, temporal, testLogger('orphan-sweeper'), {
      minAgeMs: 30_000,
      intervalMs: 60_000,
    });
  });
  afterAll(async () => {
    await temporal?.connection.close();
    await platform?.close();
    await fake?.close();
  });

  it('closes a never-accepted run and leaves queued and running ones alone', async () => {
    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    // An accepted turn held mid-stream, and a second one queued behind it.
    const gate = createGate();
    fake.enqueue({ kind: 'gate', text: 'slow', gate });
    const session = await request(platform.url).post('/v1/sessions').set(auth).send({}).expect(201);
    const running = await request(platform.url)
      .post(`/v1/sessions/${session.body.id}/messages`)
      .set(auth)
      .send({ content: 'one', model: 'fake-model' })
      .expect(202);
    await gate.reached;
    const queued = await request(platform.url)
      .post(`/v1/sessions/${session.body.id}/messages`)
      .set(auth)
      .send({ content: 'two', model: 'fake-model' })
      .expect(202);

    // A run row whose request died before update-with-start.
    const orphanSession = await insertSession(platform.pool, {
      id: randomUUID(),
      tenantId: DEFAULT_TENANT_ID,
      userId: null,
    });
    const orphanId = randomUUID();
    await insertRun(platform.pool, {
      id: orphanId,
      tenantId: DEFAULT_TENANT_ID,
      kind: 'turn',
      sessionId: orphanSession.id,
      userId: null,
      model: 'fake-model',
      input: { messages: [{ role: 'user', content: 'lost' }], system: [], agent: 'default' },
      idempotencyKey: null,
      requestHash: null,
      workflowId: turnWorkflowId(DEFAULT_TENANT_ID, orphanId),
    });

    // Old enough to be an orphan (other test files' fresh requests are not).
    await platform.pool.query(
      "update runs set created_at = now() - interval '1 hour' where id = any($1)",
      [[orphanId, queued.body.run.id]],
    );
    const closed = await sweeper.sweepOnce();
    expect(closed).toContain(orphanId);
    expect(closed).not.toContain(running.body.run.id);
    expect(closed).not.toContain(queued.body.run.id);
    const orphan = await request(platform.url).get(`/v1/runs/${orphanId}`).set(auth).expect(200);
    expect(orphan.body).toMatchObject({ status: 'failed', error: { code: 'not_accepted' } });

    gate.open();
    const done = await request(platform.url)
      .get(`/v1/runs/${queued.body.run.id}/wait?timeout=60`)
      .set(auth)
      .expect(200);
    expect(done.body.status).toBe('succeeded');
  });
});
