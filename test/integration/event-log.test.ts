import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { insertRun } from '../../src/db/runs';
import {
  appendRunEvents,
  claimStepFence,
  readRunEvents,
  SupersededAttemptError,
} from '../../src/events/event-log';
import { EventWriter } from '../../src/events/event-writer';
import { RUN_EVENTS_CHANNEL } from '../../src/events/types';
import { testPool } from '../helpers/platform';

describe('run event log', () => {
  const pool = testPool();
  afterAll(() => pool.end());

  async function newRun(): Promise<string> {
    const id = randomUUID();
    await insertRun(pool, {
      id,
      tenantId: DEFAULT_TENANT_ID,
      kind: 'turn',
      sessionId: null,
      userId: null,
      model: null,
      input: {},
      idempotencyKey: null,
      requestHash: null,
      workflowId: `test:${id}`,
    });
    return id;
  }

  it('gives concurrent writers strictly increasing, gapless sequence numbers', async () => {
    const runId = await newRun();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendRunEvents(pool, runId, [
          { type: 'message.delta', data: { content: `${i}a` } },
          { type: 'message.delta', data: { content: `${i}b` } },
        ]),
      ),
    );
    const events = await readRunEvents(pool, runId, 0);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Each batch is contiguous.
    for (let i = 0; i < 40; i += 2) {
      expect(String(events[i].data.content).slice(0, -1)).toBe(
        String(events[i + 1].data.content).slice(0, -1),
      );
    }
  });

  it('announces each batch with one NOTIFY carrying run id and last seq', async () => {
    const runId = await newRun();
    const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => {
      if (n.payload?.startsWith(runId)) payloads.push(n.payload);
    });
    await listener.query(`listen ${RUN_EVENTS_CHANNEL}`);
    const writer = new EventWriter({ pool, runId, maxDelayMs: 1000, maxEvents: 64 });
    for (let i = 0; i < 130; i++) writer.push({ type: 'message.delta', data: { content: 'x' } });
    await writer.flush();
    await new Promise((r) => setTimeout(r, 200));
    await listener.end();
    expect(payloads).toEqual([`${runId}:64`, `${runId}:128`, `${runId}:130`]);
  });

  it('fences a superseded attempt out of its step', async () => {
    const runId = await newRun();
    expect(await claimStepFence(pool, runId, 0, 1)).toBe(true);
    await appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'a' } }], {
      step: 0,
      attempt: 1,
    });
    expect(await claimStepFence(pool, runId, 0, 2)).toBe(true);
    await expect(
      appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'zombie' } }], {
        step: 0,
        attempt: 1,
      }),
    ).rejects.toBeInstanceOf(SupersededAttemptError);
    expect(await claimStepFence(pool, runId, 0, 1)).toBe(false);
    await appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'b' } }], {
      step: 0,
      attempt: 2,
    });
    expect((await readRunEvents(pool, runId, 0)).map((e) => e.data.content)).toEqual(['a', 'b']);
  });
});
