import { randomUUID } from 'node:crypto';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import type { DreamAllWorkflowInput } from '../../workflows/dreaming.workflow';
import { startPlatform, workflowBundle, type Platform } from '../helpers/platform';
import { testStackEnv } from '../setup/stack-env';

/**
 * Scheduled dreaming. The time-skipping test server does not implement the
 * Schedule API (CreateSchedule is UNIMPLEMENTED), so:
 * - the time-skipping server drives the fan-out through several intervals of
 *   skipped time, with fake activities, checking each firing's window follows
 *   the clock, users without activity get no child, and concurrency is bounded;
 * - the real dev server runs the Schedule API itself: `PUT /v1/dreaming/schedule`
 *   with a 1 s interval fires several times, overlap SKIP, pause.
 */
describe('dreaming schedule', () => {
  describe('fan-out over skipped time (time-skipping server)', () => {
    let env: TestWorkflowEnvironment;

    beforeAll(async () => {
      env = await TestWorkflowEnvironment.createTimeSkipping({
        server: {
          executable: { type: 'existing-path', path: testStackEnv().TEMPORAL_TEST_SERVER_PATH },
        },
      });
    });
    afterAll(async () => {
      await env?.teardown();
    });

    it('dreams only active users, at most `concurrency` at a time, one window per interval', async () => {
      const taskQueue = `dream-${randomUUID()}`;
      const watermarks = new Map<string, string>();
      const activity = new Map<string, number[]>([
        ['ann', []],
        ['bob', []],
        ['cy', []],
        ['dee', []],
        ['eve', []],
      ]);
      const windows: string[] = [];
      const childStarts: { user: string; window: string }[] = [];
      let running = 0;
      let maxRunning = 0;
      let now = 0;
      const hasNews = (user: string, windowEnd: string) =>
        activity
          .get(user)!
          .some(
            (t) =>
              t > Date.parse(watermarks.get(user) ?? '1970-01-01T00:00:00Z') &&
              t <= Date.parse(windowEnd),
          );

      const activities = {
        async beginDreamAll(input: { windowEnd: string }) {
          windows.push(input.windowEnd);
          return `run-all-${windows.length}`;
        },
        async listDreamUsers(input: { windowEnd: string; after: string | null; limit: number }) {
          const users = [...activity.keys()].filter(
            (u) => (input.after === null || u > input.after) && hasNews(u, input.windowEnd),
          );
          return { userIds: users.slice(0, input.limit), next: null };
        },
        async beginDream(input: { userId: string; windowEnd: string }) {
          childStarts.push({ user: input.userId, window: input.windowEnd });
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 30));
          return {
            runId: `${input.userId}@${input.windowEnd}`,
            pages: 2,
            messages: 10,
            files: 0,
            skip: false,
          };
        },
        async dreamPage() {
          return { budgetExceeded: false, changes: 1, warnings: 0 };
        },
        async consolidateDreamFacts() {
          return { budgetExceeded: false, changes: 0, warnings: 0 };
        },
        async buildDreamProfile() {
          return { budgetExceeded: false, changes: 1, warnings: 0 };
        },
        async linkDreamAffinity() {
          return { budgetExceeded: false, changes: 0, warnings: 0 };
        },
        async finishDream(input: { runId: string; status: string }) {
          running--;
          const [user, windowEnd] = input.runId.split('@');
          if (input.status === 'succeeded') watermarks.set(user, windowEnd);
        },
        async reportDreamAllProgress() {},
        async finishDreamAll() {},
      };
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: { codePath: await workflowBundle() },
        activities,
      });

      await worker.runUntil(async () => {
        const hour = 3_600_000;
        // Four firings an hour apart; between them, some users are active.
        const plan: string[][] = [['ann', 'bob', 'cy', 'dee', 'eve'], ['bob'], [], ['ann', 'eve']];
        for (const [i, active] of plan.entries()) {
          now = await env.currentTimeMs();
          for (const user of active) activity.get(user)!.push(now - 1000);
          // The test server knows no custom search attributes (a child tagged with them never starts).
          const input: DreamAllWorkflowInput = {
            tenantId: 't1',
            concurrency: 2,
            searchAttributes: false,
          };
          const result = await env.client.workflow.execute('dreamAllWorkflow', {
            taskQueue,
            workflowId: `dream-all:t1-tick-${i}-${randomUUID()}`,
            args: [input],
          });
          expect(result).toMatchObject({ users: active.length, failed: 0 });
          await env.sleep(hour);
        }
      });

      // Each firing's window ends at its (skipped) start time, an hour after the last.
      expect(windows).toHaveLength(4);
      for (let i = 1; i < windows.length; i++) {
        expect(Date.parse(windows[i]) - Date.parse(windows[i - 1])).toBeGreaterThanOrEqual(
          3_600_000,
        );
      }
      expect(
        childStarts
          .filter((c) => c.window === windows[0])
          .map((c) => c.user)
          .sort(),
      ).toEqual(['ann', 'bob', 'cy', 'dee', 'eve']);
      expect(childStarts.filter((c) => c.window === windows[1]).map((c) => c.user)).toEqual([
        'bob',
      ]);
      expect(childStarts.filter((c) => c.window === windows[2])).toEqual([]);
      expect(
        childStarts
          .filter((c) => c.window === windows[3])
          .map((c) => c.user)
          .sort(),
      ).toEqual(['ann', 'eve']);
      expect(maxRunning).toBe(2);
      expect(watermarks.get('cy')).toBe(windows[0]);
      expect(watermarks.get('ann')).toBe(windows[3]);
    });
  });

  describe('Temporal Schedule through the API (dev server)', () => {
    let platform: Platform;
    let client: Client;
    let tenantId: string;
    let key: string;
    const auth = () => ({ Authorization: `Bearer ${key}` });

    beforeAll(async () => {
      platform = await startPlatform();
      tenantId = randomUUID();
      await platform.pool.query(`insert into tenants (id, name) values ($1, 'dream schedule')`, [
        tenantId,
      ]);
      ({ key } = await createApiKey(platform.pool, tenantId, { name: 'schedule' }));
      client = new Client({
        connection: await Connection.connect({ address: platform.config.temporal.address! }),
      });
    });
    afterAll(async () => {
      await client?.schedule
        .getHandle(`dream-schedule:${tenantId}`)
        .delete()
        .catch((err: unknown) => {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        });
      await client?.connection.close();
      await platform?.close();
    });

    it('creates, fires every interval with overlap skip, updates and pauses', async () => {
      await request(platform.url).get('/v1/dreaming/schedule').set(auth()).expect(404);
      await request(platform.url)
        .put('/v1/dreaming/schedule')
        .set(auth())
        .send({ paused: false })
        .expect(400);
      await request(platform.url)
        .put('/v1/dreaming/schedule')
        .set(auth())
        .send({ interval: '1s', cron: '* * * * *' })
        .expect(400);

      const created = await request(platform.url)
        .put('/v1/dreaming/schedule')
        .set(auth())
        .send({ interval: '1s', catchup_window: '1m' })
        .expect(200);
      expect(created.body).toMatchObject({
        id: `dream-schedule:${tenantId}`,
        interval: '1s',
        cron: null,
        paused: false,
        overlap: 'skip',
        catchup_window: '1m',
      });

      // Several intervals go by: each firing is a dreamAllWorkflow run of this tenant, recorded as a `dream` run.
      const deadline = Date.now() + 20_000;
      let runs: { workflow_id: string; status: string; kind: string }[] = [];
      while (Date.now() < deadline) {
        runs = (
          await request(platform.url).get('/v1/runs?kind=dream&limit=100').set(auth()).expect(200)
        ).body.data;
        if (runs.filter((r) => r.status === 'succeeded').length >= 3) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(runs.filter((r) => r.status === 'succeeded').length).toBeGreaterThanOrEqual(3);
      expect(runs.every((r) => r.workflow_id.startsWith(`dream-all:${tenantId}`))).toBe(true);
      const shown = (
        await request(platform.url).get('/v1/dreaming/schedule').set(auth()).expect(200)
      ).body;
      expect(shown.actions_taken).toBeGreaterThanOrEqual(3);
      expect(shown.recent_runs.length).toBeGreaterThanOrEqual(3);
      expect(shown.next_run_times.length).toBeGreaterThan(0);

      const cron = await request(platform.url)
        .put('/v1/dreaming/schedule')
        .set(auth())
        .send({ cron: '0 3 * * *' })
        .expect(200);
      expect(cron.body).toMatchObject({
        interval: null,
        cron: '0 3 * * *',
        paused: false,
        catchup_window: '1m',
      });

      const paused = await request(platform.url)
        .put('/v1/dreaming/schedule')
        .set(auth())
        .send({ paused: true })
        .expect(200);
      expect(paused.body).toMatchObject({ paused: true, cron: '0 3 * * *' });
    });
  });
});
