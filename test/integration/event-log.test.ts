import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { insertRun, requestRunStop } from '../../src/db/runs';
import {
  appendRunEvents,
  claimStepFence,
  parseNotification,
  readRunEvents,
  SupersededAttemptError,
} from '../../src/events/event-log';
import { EventHub } from '../../src/events/event-hub';
import { EventWriter } from '../../src/events/event-writer';
import { streamRunEvents } from '../../src/events/run-event-stream';
import { testLogger } from '../helpers/test-logs';
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

  it('announces each batch with one NOTIFY carrying run id, last seq and the batch when it fits', async () => {
    const runId = await newRun();
    const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => {
      if (n.payload?.startsWith(runId)) payloads.push(n.payload);
    });
    await listener.query(`listen ${RUN_EVENTS_CHANNEL}`);
    const writer = new EventWriter({ pool, runId, maxDelayMs: 1000, maxEvents: 64 });
    for (let i = 0; i < 130; i++)
      writer.push({ type: 'message.delta', data: { content: `x${i}` } });
    await writer.flush();
    // Too large for a NOTIFY payload (8000 bytes): announced without its events.
    await appendRunEvents(pool, runId, [{ type: 'metadata', data: { blob: 'y'.repeat(9000) } }]);
    await new Promise((r) => setTimeout(r, 200));
    await listener.end();
    const notes = payloads.map((p) => parseNotification(p)!);
    expect(notes.map((n) => n.lastSeq)).toEqual([64, 128, 130, 131]);
    expect(notes.slice(0, 3).flatMap((n) => n.events()!.map((e) => e.seq))).toEqual(
      Array.from({ length: 130 }, (_, i) => i + 1),
    );
    // The notified events are the stored ones.
    const stored = await readRunEvents(pool, runId, 0, 130);
    expect(notes.slice(0, 3).flatMap((n) => n.events())).toEqual(
      stored.map(({ seq, type, data }) => ({ seq, type, data })),
    );
    expect(notes[3]).toMatchObject({ runId, lastSeq: 131 });
    expect(notes[3].events()).toBeUndefined();
    expect(payloads[3]).toBe(`${runId}:131`);
  });

  it('sends a quiet writer’s first event at once, then at most one batch per interval', async () => {
    const runId = await newRun();
    const flushed: number[] = [];
    const writer = new EventWriter({
      pool,
      runId,
      maxDelayMs: 40,
      maxEvents: 64,
      onFlushed: (lastSeq) => flushed.push(lastSeq),
    });
    // A token every 2 ms for 200 ms, the way a fast model streams.
    for (let i = 0; i < 100; i++) {
      writer.push({ type: 'message.delta', data: { content: `t${i}` } });
      await new Promise((r) => setTimeout(r, 2));
    }
    await writer.flush();
    // The first token went alone (before the next arrived 2 ms later).
    expect(flushed[0]).toBe(1);
    // One batch per token would be 100; the interval allows about 200 / 40 + the first and last.
    expect(flushed.length).toBeGreaterThanOrEqual(3);
    expect(flushed.length).toBeLessThanOrEqual(12);
    expect(flushed.at(-1)).toBe(100);
    const events = await readRunEvents(pool, runId, 0);
    expect(events.map((e) => e.data.content)).toEqual(
      Array.from({ length: 100 }, (_, i) => `t${i}`),
    );
  });

  it('relays notified batches to readers without reading them back, and reads what it was not told', async () => {
    const runId = await newRun();
    const hub = new EventHub(process.env.DATABASE_URL!, testLogger('event-log'));
    await hub.start();
    const counting = testPool();
    let reads = 0;
    const query = counting.query.bind(counting);
    counting.query = ((...args: Parameters<typeof query>) => {
      if (String(args[0]).includes('from run_events')) reads++;
      return query(...args);
    }) as typeof counting.query;
    try {
      const received: number[] = [];
      const relayed: number[] = [];
      const reader = (async () => {
        for await (const event of streamRunEvents({
          pool: counting,
          hub,
          runId,
          afterSeq: 0,
          pollMs: 60_000,
          onRelayed: (ms) => relayed.push(ms),
        })) {
          received.push(event.seq);
        }
      })();
      // The reader's own first read (replay) happens before anything is written.
      await new Promise((r) => setTimeout(r, 100));
      const readsBefore = reads;
      for (let i = 0; i < 5; i++) {
        await appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: `${i}` } }]);
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(reads).toBe(readsBefore);
      // A batch too large to notify is read from the table, and so is the one after it.
      await appendRunEvents(pool, runId, [{ type: 'metadata', data: { blob: 'y'.repeat(9000) } }]);
      await appendRunEvents(pool, runId, [{ type: 'done', data: { reason: 'stop' } }]);
      await reader;
      expect(received).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(reads).toBeGreaterThan(readsBefore);
      // One observation per consumed batch: the last two may be read back as one.
      expect(relayed.length).toBeGreaterThanOrEqual(6);
      expect(relayed.length).toBeLessThanOrEqual(7);
      for (const ms of relayed) expect(ms).toBeGreaterThanOrEqual(0);
    } finally {
      await hub.stop();
      await counting.end();
    }
  });

  it('fences a superseded attempt out of its step, and every attempt out of a stopped turn', async () => {
    const runId = await newRun();
    expect(await claimStepFence(pool, runId, 0)).toBe(1);
    await appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'a' } }], {
      step: 0,
      attempt: 1,
    });
    // Attempt numbers come from the run: a second claim of the step is attempt 2.
    expect(await claimStepFence(pool, runId, 0)).toBe(2);
    await expect(
      appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'zombie' } }], {
        step: 0,
        attempt: 1,
      }),
    ).rejects.toBeInstanceOf(SupersededAttemptError);
    await appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'b' } }], {
      step: 0,
      attempt: 2,
    });
    // The next step starts at attempt 1; a stale execution of step 0 can no longer claim.
    expect(await claimStepFence(pool, runId, 1)).toBe(1);
    expect(await claimStepFence(pool, runId, 0)).toBeUndefined();
    // A stop request refuses the step's writes; unfenced writes (the run's end) still land.
    await pool.query(`update runs set status = 'running' where id = $1`, [runId]);
    expect(await requestRunStop(pool, runId, 'interrupted')).toBe(true);
    expect(await requestRunStop(pool, runId, 'cancelled')).toBe(true);
    await expect(
      appendRunEvents(pool, runId, [{ type: 'message.delta', data: { content: 'late' } }], {
        step: 1,
        attempt: 1,
      }),
    ).rejects.toBeInstanceOf(SupersededAttemptError);
    await appendRunEvents(pool, runId, [{ type: 'done', data: { reason: 'interrupted' } }]);
    expect((await readRunEvents(pool, runId, 0)).map((e) => e.data.content ?? e.type)).toEqual([
      'a',
      'b',
      'done',
    ]);
    const { rows } = await pool.query('select stop_requested from runs where id = $1', [runId]);
    expect(rows[0].stop_requested).toBe('interrupted'); // the first reason wins
  });
});
