import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { ingestWorkflowId } from '../../workflows/ingest-file.workflow';
import { seedConversations } from '../helpers/dream-seed';
import { turnWorkflowId } from '../../workflows/session.workflow';
import { createGate, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, workflowBundle, type Platform } from '../helpers/platform';

const FIXTURES = path.resolve(__dirname, '../fixtures/histories');

/**
 * Replay guards every workflow change: histories recorded from earlier code
 * (test/fixtures/histories) and fresh ones must replay without nondeterminism.
 * `UPDATE_HISTORIES=<version>` records this run's histories as new fixtures
 * (`<name>.<version>.json`); older versions stay, so old histories keep replaying.
 */
describe('workflow replay', () => {
  let fake: FakeOpenAI;
  let platform: Platform;
  let temporal: Client;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    platform = await startPlatform({
      LLM_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'fake-model',
      DREAM_MODEL: 'simulator',
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

  async function record(): Promise<{ name: string; history: unknown }[]> {
    const auth = { Authorization: `Bearer ${platform.apiKey}` };
    const session = await request(platform.url).post('/v1/sessions').set(auth).send({}).expect(201);
    const sessionId = session.body.id as string;
    // A turn with a tool call, a failed-then-retried step, and an interrupted turn.
    fake.enqueue(
      { kind: 'toolCalls', calls: [{ name: 'lookup', arguments: { id: sessionId } }] },
      { kind: 'error', status: 500 },
      { kind: 'text', text: 'looked it up' },
    );
    const first = await request(platform.url)
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth)
      .send({ content: 'look', model: 'fake-model' })
      .expect(202);
    await request(platform.url)
      .get(`/v1/runs/${first.body.run.id}/wait?timeout=60`)
      .set(auth)
      .expect(200);
    const gate = createGate();
    fake.enqueue(
      { kind: 'gate', text: 'never finished', gate, afterChunks: 1 },
      { kind: 'text', text: 'after interrupt' },
    );
    const second = await request(platform.url)
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth)
      .send({ content: 'long', model: 'fake-model' })
      .expect(202);
    await gate.reached;
    const third = await request(platform.url)
      .post(`/v1/sessions/${sessionId}/messages`)
      .set(auth)
      .send({ content: 'stop that', model: 'fake-model', multitask_strategy: 'interrupt' })
      .expect(202);
    await request(platform.url)
      .get(`/v1/runs/${third.body.run.id}/wait?timeout=60`)
      .set(auth)
      .expect(200);
    gate.open();
    // An ingestion of a small markdown file.
    const upload = await request(platform.url)
      .post('/v1/files?filename=notes.md')
      .set(auth)
      .set('Content-Type', 'text/markdown')
      .send('# Notes\n\nReplay tests guard workflow changes.\n\n## More\n\nSecond section.')
      .expect(201);
    await request(platform.url)
      .get(`/v1/runs/${upload.body.run_id}/wait?timeout=60`)
      .set(auth)
      .expect(200);
    // A dreaming run over a small seeded conversation.
    const dreamer = `replay-${sessionId}`;
    await seedConversations(platform.pool, dreamer, 40);
    const dream = await request(platform.url)
      .post('/v1/dreaming/runs')
      .set(auth)
      .send({ user_id: dreamer })
      .expect(202);
    const dreamt = await request(platform.url)
      .get(`/v1/runs/${dream.body.id}/wait?timeout=60`)
      .set(auth)
      .expect(200);
    expect(dreamt.body.status).toBe('succeeded');
    const handles: [string, WorkflowHandle][] = [
      ['dream-user-window', temporal.workflow.getHandle(dream.body.workflow_id as string)],
      [
        'ingest-markdown',
        temporal.workflow.getHandle(ingestWorkflowId(DEFAULT_TENANT_ID, upload.body.id)),
      ],
      [
        'turn-with-tool-and-retry',
        temporal.workflow.getHandle(turnWorkflowId(DEFAULT_TENANT_ID, first.body.run.id)),
      ],
      [
        'turn-interrupted',
        temporal.workflow.getHandle(turnWorkflowId(DEFAULT_TENANT_ID, second.body.run.id)),
      ],
      // Started by the interrupted turn's hand-off. Turns of an idle session
      // start directly (its Postgres claim), so no session entity runs here:
      // its recorded histories (session-three-turns.*) still replay below.
      [
        'turn-handed-off',
        temporal.workflow.getHandle(turnWorkflowId(DEFAULT_TENANT_ID, third.body.run.id)),
      ],
    ];
    return Promise.all(
      handles.map(async ([name, handle]) => ({ name, history: await handle.fetchHistory() })),
    );
  }

  it('replays fresh and recorded histories without nondeterminism', async () => {
    const fresh = await record();
    const version = process.env.UPDATE_HISTORIES;
    if (version) {
      await mkdir(FIXTURES, { recursive: true });
      for (const { name, history } of fresh) {
        await writeFile(
          path.join(FIXTURES, `${name}.${version}.json`),
          historyToJSON(history as never),
        );
      }
    }
    const recorded = await Promise.all(
      (await readdir(FIXTURES))
        .filter((f) => f.endsWith('.json'))
        .map(async (f) => ({
          name: f,
          history: historyFromJSON(JSON.parse(await readFile(path.join(FIXTURES, f), 'utf8'))),
        })),
    );
    expect(recorded.length).toBeGreaterThanOrEqual(5);
    const histories = [...fresh, ...recorded].map(({ name, history }) => ({
      workflowId: name,
      history: history as never,
    }));
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: await workflowBundle() } },
      histories,
    )) {
      results.push(result);
    }
    expect(
      results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`),
    ).toEqual([]);
    expect(results).toHaveLength(histories.length);
  });
});
