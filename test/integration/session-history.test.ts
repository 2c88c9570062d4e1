import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { sessionWorkflowId, turnWorkflowId } from '../../workflows/session.workflow';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';

const TURNS = 300;
const TURNS_BEFORE_CONTINUE_AS_NEW = 100;

/** One session, 300 turns queued at once: they run in order, each its own small workflow. */
describe('session history', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let temporal: Client;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    fake.setDefault({ kind: 'echo', tokenDelayMs: 0 });
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
      SESSION_TURNS_BEFORE_CONTINUE_AS_NEW: String(TURNS_BEFORE_CONTINUE_AS_NEW),
    });
    temporal = new Client({
      connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
    });
  });
  afterAll(async () => {
    await temporal?.connection.close();
    await platform?.close();
    await fake?.close();
  });

  it(`runs ${TURNS} turns in order with bounded history`, async () => {
    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    const session = await request(platform.url).post('/v1/sessions').set(auth).send({}).expect(201);
    const sessionId = session.body.id as string;
    const runIds: string[] = [];
    for (let i = 0; i < TURNS; i++) {
      const res = await request(platform.url)
        .post(`/v1/sessions/${sessionId}/messages`)
        .set(auth)
        .send({ content: `message ${i}`, model: 'fake-model' })
        .expect(202);
      runIds.push(res.body.run.id);
    }
    const last = await request(platform.url)
      .get(`/v1/runs/${runIds.at(-1)}/wait?timeout=240`)
      .set(auth)
      .expect(200);
    expect(last.body.status).toBe('succeeded');

    const statuses = await platform.pool.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from runs where session_id = $1 group by status',
      [sessionId],
    );
    expect(statuses.rows).toEqual([{ status: 'succeeded', n: TURNS }]);
    const messages = await platform.pool.query<{ content: string }>(
      'select content from messages where session_id = $1 order by seq',
      [sessionId],
    );
    expect(messages.rows).toHaveLength(TURNS * 2);
    expect(messages.rows.slice(0, 4).map((m) => m.content)).toEqual([
      'message 0',
      'echo: message 0',
      'message 1',
      'echo: message 1',
    ]);
    expect(messages.rows.at(-1)?.content).toBe(`echo: message ${TURNS - 1}`);

    // The session's queue lived in Postgres (its claim, handed from turn to
    // turn): no session entity ran, and every turn is a workflow of its own
    // whose history does not grow with the session.
    await expect(
      temporal.workflow.getHandle(sessionWorkflowId(DEFAULT_TENANT_ID, sessionId)).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    for (const runId of [runIds[0], runIds[150], runIds.at(-1)!]) {
      const turn = await temporal.workflow
        .getHandle(turnWorkflowId(DEFAULT_TENANT_ID, runId))
        .describe();
      expect(turn.historyLength).toBeLessThan(30);
    }
  }, 300_000);
});
