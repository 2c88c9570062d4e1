/**
 * Crash survival of a dreaming run: `kill -9` the worker while pages are being
 * dreamt. Temporal notices the lost heartbeat (5 s, DREAM_MODEL_STEP), the page
 * runs again on a new worker process, and the run finishes with every page
 * dreamt once: no duplicate moments or changes, watermark advanced.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { createApiKey } from '../helpers/test-secrets';
import type { Pool } from '../../src/db/pool';
import { seedConversations } from '../helpers/dream-seed';
import { platformEnv, spawnReverie, testPool, type ReverieProcess } from '../helpers/platform';
import { getJson } from '../helpers/sse-client';

describe('crash: worker killed with -9 mid-dream', () => {
  let env: Record<string, string>;
  let api: ReverieProcess;
  const workers: ReverieProcess[] = [];
  let pool: Pool;
  let key: string;

  beforeAll(async () => {
    // Slow pages (300 ms each), one at a time, so the kill lands mid-run.
    env = await platformEnv({
      SIMULATOR_TOKEN_DELAY_MS: '30',
      DREAM_PAGE_MESSAGES: '20',
      DREAM_PAGE_CONCURRENCY: '1',
    });
    [api] = await Promise.all([
      spawnReverie('api', env),
      spawnReverie('worker', env).then((w) => workers.push(w)),
    ]);
    pool = testPool();
    // Dreaming spends model tokens in the background: anonymous callers may not start it.
    ({ key } = await createApiKey(pool, DEFAULT_TENANT_ID, { name: 'dream-crash' }));
  });

  afterAll(async () => {
    await Promise.all([api?.kill(), ...workers.map((w) => w.kill())]);
    await pool?.end();
  });

  it('resumes on a new worker and dreams every page exactly once', async () => {
    const user = `crash-dreamer-${randomUUID()}`;
    const messageIds = await seedConversations(pool, user, 400);
    const res = await fetch(`${api.url}/v1/dreaming/runs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify({ user_id: user }),
    });
    expect(res.status).toBe(202);
    const { id: runId } = (await res.json()) as { id: string };

    const pagesDone = async () =>
      (
        await pool.query<{ n: number }>(
          'select count(*)::int as n from dream_pages where run_id = $1 and page >= 0 and result is not null',
          [runId],
        )
      ).rows[0].n;
    const deadline = Date.now() + 30_000;
    while ((await pagesDone()) < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const before = await pagesDone();
    expect(before).toBeGreaterThanOrEqual(3);

    const dead = workers[workers.length - 1];
    await dead.kill('SIGKILL');
    expect(dead.child.signalCode).toBe('SIGKILL');
    const total = (
      await pool.query<{ n: number }>(
        'select count(*)::int as n from dream_pages where run_id = $1 and page >= 0',
        [runId],
      )
    ).rows[0].n;
    expect(before).toBeLessThan(total);
    workers.push(await spawnReverie('worker', env));

    const run = await getJson<{ status: string; usage: { model_calls: number } }>(
      `${api.url}/v1/runs/${runId}/wait?timeout=90`,
    );
    expect(run.status).toBe('succeeded');
    expect(await pagesDone()).toBe(total);
    // Each page called the model once, the page that died with the worker at most twice; plus the profile.
    expect(run.usage.model_calls).toBeGreaterThanOrEqual(total + 1);
    expect(run.usage.model_calls).toBeLessThanOrEqual(total + 2);

    const moments = await pool.query<{ source_message_ids: string[] }>(
      'select source_message_ids from moments where user_id = $1',
      [user],
    );
    const covered = moments.rows.flatMap((m) => m.source_message_ids);
    expect(covered).toHaveLength(messageIds.length);
    expect(new Set(covered).size).toBe(messageIds.length);
    const changes = await pool.query<{ n: number }>(
      `select count(*)::int as n from dreaming_changes where run_id = $1 and kind = 'moment'`,
      [runId],
    );
    expect(changes.rows[0].n).toBe(moments.rows.length);
    const state = await pool.query('select last_run_id from dreaming_state where user_id = $1', [
      user,
    ]);
    expect(state.rows[0].last_run_id).toBe(runId);
  });
});
