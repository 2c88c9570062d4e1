/**
 * Crash survival of an ingestion: `kill -9` the worker while chunks are being
 * embedded and stored. Temporal notices the lost heartbeat (5 s, INGEST_EMBED),
 * a fresh worker retries the activity, which skips the stored ordinals: the
 * file ends ready exactly once, with exactly the planned chunks.
 */
import { Client, Connection } from '@temporalio/client';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import type { Pool } from '../../src/db/pool';
import { chunkDocument } from '../../src/files/chunker';
import { parseDocument } from '../../src/files/parse';
import { testLogger } from '../helpers/test-logs';
import { startApi, type RunningApi } from '../../src/server';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { platformEnv, spawnReverie, testPool, type ReverieProcess } from '../helpers/platform';
import { longText } from '../fixtures/files/make-fixtures';
import { ingestWorkflowId } from '../../workflows/ingest-file.workflow';

// Small files go through one activity; larger ones (here: every file) through staged ones.
describe.each([
  ['in one pass', {}, ['ingestInOnePass']],
  ['in stages', { INGEST_ONE_PASS_MAX_BYTES: '0' }, ['parseFile', 'embedChunks']],
])(
  'crash: worker killed with -9 mid-ingestion %s',
  (_path, pathEnv: Record<string, string>, activities: string[]) => {
    let env: Record<string, string>;
    let api: RunningApi;
    const workers: ReverieProcess[] = [];
    let pool: Pool;
    let key: string;

    beforeAll(async () => {
      env = await platformEnv({
        EMBEDDINGS_PROVIDER: 'local',
        INGEST_CHUNK_TOKENS: '120',
        INGEST_CHUNK_OVERLAP_TOKENS: '20',
        INGEST_EMBED_BATCH: '8',
        ...pathEnv,
      });
      const config = loadConfig(env, false);
      [api] = await Promise.all([
        startApi(config, testLogger('ingest-crash')),
        spawnReverie('worker', env).then((w) => workers.push(w)),
      ]);
      pool = testPool();
      ({ key } = await createApiKey(pool, DEFAULT_TENANT_ID, { name: 'crash' }));
    });

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await api?.close();
      await pool?.end();
    });

    const stored = async (fileId: string) =>
      (
        await pool.query<{ n: number; distinct_ordinals: number }>(
          'select count(*)::int as n, count(distinct ordinal)::int as distinct_ordinals from chunks where file_id = $1',
          [fileId],
        )
      ).rows[0];

    it('completes once with the exact chunk count after the worker dies', async () => {
      const text = longText(1200, 11);
      const expected = chunkDocument(await parseDocument('txt', Buffer.from(text)), {
        maxTokens: 120,
        overlapTokens: 20,
      }).length;
      const res = await request(api.url)
        .post('/v1/files?filename=crash.txt')
        .set('Authorization', `Bearer ${key}`)
        .set('Content-Type', 'text/plain')
        .send(Buffer.from(text))
        .expect(201);
      const { id, run_id: runId } = res.body as { id: string; run_id: string };

      // Kill the worker once some, but not all, chunks are stored.
      const deadline = Date.now() + 60_000;
      while ((await stored(id)).n < 8) {
        if (Date.now() > deadline) throw new Error('embedding never started');
        await new Promise((r) => setTimeout(r, 10));
      }
      const dead = workers[workers.length - 1];
      await dead.kill('SIGKILL');
      const atCrash = (await stored(id)).n;
      expect(atCrash).toBeLessThan(expected);
      workers.push(await spawnReverie('worker', env));

      const run = await request(api.url)
        .get(`/v1/runs/${runId}/wait?timeout=90`)
        .set('Authorization', `Bearer ${key}`)
        .expect(200);
      expect(run.body.status).toBe('succeeded');
      const file = await request(api.url)
        .get(`/v1/files/${id}`)
        .set('Authorization', `Bearer ${key}`)
        .expect(200);
      expect(file.body).toMatchObject({ status: 'ready', chunk_count: expected, error: null });
      expect(await stored(id)).toEqual({ n: expected, distinct_ordinals: expected });
      const events = await pool.query<{ type: string; data: { stage?: string; done?: number } }>(
        'select type, data from run_events where run_id = $1 order by seq',
        [runId],
      );
      expect(events.rows.filter((e) => e.type === 'done')).toHaveLength(1);
      expect(events.rows.filter((e) => e.type === 'run.started')).toHaveLength(1);
      // The retry resumed after the stored batches instead of starting over.
      const embedDone = events.rows
        .filter((e) => e.data.stage === 'embed')
        .map((e) => e.data.done!);
      expect(embedDone[embedDone.length - 1]).toBe(expected);
      expect(embedDone.filter((d) => d === 8)).toHaveLength(1);
      // The path this case is about is the one that ran.
      const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
      try {
        const history = await new Client({ connection }).workflow
          .getHandle(ingestWorkflowId(DEFAULT_TENANT_ID, id))
          .fetchHistory();
        const scheduled = (history.events ?? [])
          .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
          .filter(Boolean);
        expect([...new Set(scheduled)]).toEqual(activities);
      } finally {
        await connection.close();
      }
    }, 180_000);
  },
);
