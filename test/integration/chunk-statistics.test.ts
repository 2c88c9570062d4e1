/**
 * A large ingestion refreshes the planner's statistics of `chunks` when the
 * file turns ready: without them the vector search ranks every chunk exactly
 * (0.5 s per query over 100k chunks) until autovacuum gets there.
 */
import { randomUUID } from 'node:crypto';
import { createActivities } from '../../activities';
import { createBlobStore } from '../../src/blob';
import { DEFAULT_TENANT_ID, loadConfig } from '../../src/config';
import { insertChunks, insertFile } from '../../src/db/files';
import { insertRun } from '../../src/db/runs';
import { createEmbedder, toVectorLiteral } from '../../src/embeddings';
import { testLogger } from '../helpers/test-logs';
import { platformEnv, testPool } from '../helpers/platform';

describe('chunk statistics after an ingestion', () => {
  const pool = testPool();
  afterAll(() => pool.end());

  async function readyFile(chunkCount: number) {
    const config = loadConfig(await platformEnv({ EMBEDDINGS_PROVIDER: 'local' }), false);
    const activities = createActivities({
      pool,
      config,
      log: testLogger('chunk-statistics'),
      embedder: createEmbedder(config),
      blobs: createBlobStore(config),
    } as never);
    const fileId = randomUUID();
    const runId = randomUUID();
    await insertRun(pool, {
      id: runId,
      tenantId: DEFAULT_TENANT_ID,
      kind: 'ingest',
      sessionId: null,
      userId: null,
      model: null,
      input: { file_id: fileId },
      idempotencyKey: null,
      requestHash: null,
      workflowId: `test:${runId}`,
    });
    await insertFile(pool, {
      id: fileId,
      tenantId: DEFAULT_TENANT_ID,
      userId: null,
      sessionId: null,
      filename: 'stats.txt',
      contentType: 'text/plain',
      format: 'txt',
      sizeBytes: 1,
      sha256: 'x',
      blobKey: `test/${fileId}`,
      runId,
    });
    const vector = toVectorLiteral(new Array<number>(config.embeddingDim).fill(0.01));
    await insertChunks(
      pool,
      DEFAULT_TENANT_ID,
      fileId,
      Array.from({ length: chunkCount }, (_, i) => ({
        ordinal: i,
        content: `chunk ${i}`,
        heading: null,
        tokenCount: 2,
        startOffset: 0,
        endOffset: 0,
        page: null,
        embedding: vector,
      })),
    );
    await activities.completeIngest({ fileId, runId, chunkCount });
    return fileId;
  }

  const lastAnalyze = async () =>
    (
      await pool.query<{ at: Date | null }>(
        `select last_analyze as at from pg_stat_user_tables where relname = 'chunks'`,
      )
    ).rows[0].at;

  it('analyzes chunks once a file with 1000 chunks is ready, not after a small one', async () => {
    const before = await lastAnalyze();
    await readyFile(10);
    expect(await lastAnalyze()).toEqual(before);
    await readyFile(1000);
    // pg_stat views are refreshed by the statistics collector: give it a moment.
    let after = await lastAnalyze();
    for (let i = 0; i < 20 && String(after) === String(before); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await lastAnalyze();
    }
    expect(after).not.toBeNull();
    expect(after!.getTime()).toBeGreaterThan(before?.getTime() ?? 0);
  });
});
