import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { DEFAULT_TENANT_ID, loadConfig } from '../../src/config';
import type { Pool } from '../../src/db/pool';
import { ConflictError } from '../../src/errors';
import { RunStarter, type RunStartRequest } from '../../src/runs/run-starter';
import { TurnService } from '../../src/turns/turn-service';
import { platformEnv, startPlatform, testPool, type Platform } from '../helpers/platform';

const unreachable = () =>
  Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { code: 14 });

/** The one run starter: replay, races, undo — against the real database. */
describe('RunStarter', () => {
  let pool: Pool;
  let starter: RunStarter;
  beforeAll(() => {
    pool = testPool();
    starter = new RunStarter(pool);
  });
  afterAll(async () => {
    await pool.end();
  });

  const runsWithKey = async (key: string) =>
    (
      await pool.query<{ id: string }>(
        'select id from runs where tenant_id = $1 and idempotency_key = $2',
        [DEFAULT_TENANT_ID, key],
      )
    ).rows;

  function request_(over: Partial<RunStartRequest> = {}): RunStartRequest {
    return {
      tenantId: DEFAULT_TENANT_ID,
      kind: 'memory',
      userId: 'starter-user',
      model: null,
      input: { text: 'x' },
      workflowId: (id) => `test:${id}`,
      fingerprint: { body: 'same' },
      launch: () => Promise.resolve(),
      ...over,
    };
  }

  it('starts exactly one run for concurrent retries with one Idempotency-Key', async () => {
    const key = randomUUID();
    const launched: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        starter.start(
          request_({
            idempotencyKey: key,
            launch: async (run, retry) => void launched.push(`${run.id}:${retry}`),
          }),
        ),
      ),
    );
    const ids = new Set(results.map((r) => r.run.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await runsWithKey(key)).toHaveLength(1);
    // Launched once as new; a retry that found it still queued launched it again (idempotent).
    expect(launched.filter((l) => l.endsWith(':false'))).toHaveLength(1);
    expect(new Set(launched.map((l) => l.split(':')[0]))).toEqual(ids);
  });

  it('answers another body under the same key with 409 idempotency_conflict naming the run', async () => {
    const key = randomUUID();
    const first = await starter.start(request_({ idempotencyKey: key }));
    const conflict = await starter
      .start(request_({ idempotencyKey: key, fingerprint: { body: 'other' } }))
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect((conflict as ConflictError).code).toBe('idempotency_conflict');
    expect((conflict as ConflictError).details).toEqual({ run_id: first.run.id });
    // The same key on another kind of run is also another request.
    const otherKind = await starter
      .start(request_({ idempotencyKey: key, kind: 'dream' }))
      .catch((e: unknown) => e);
    expect((otherKind as ConflictError).code).toBe('idempotency_conflict');
    expect(await runsWithKey(key)).toHaveLength(1);
  });

  it('undoes the run and its rows when Temporal cannot be reached', async () => {
    const key = randomUUID();
    const sessionId = randomUUID();
    const undone: string[] = [];
    const err = await starter
      .start(
        request_({
          kind: 'turn',
          idempotencyKey: key,
          prepare: async (tx) => {
            await tx.query('insert into sessions (id, tenant_id) values ($1, $2)', [
              sessionId,
              DEFAULT_TENANT_ID,
            ]);
            return { sessionId };
          },
          launch: () => Promise.reject(unreachable()),
          undo: async (run) => void undone.push(run.id),
          keepWhenUncertain: true,
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'unavailable' });
    expect(await runsWithKey(key)).toHaveLength(0);
    expect(undone).toHaveLength(1);
    // The transaction's own rows stay (a session is not the run's to undo); the run is gone.
    const runs = await pool.query('select 1 from runs where session_id = $1', [sessionId]);
    expect(runs.rowCount).toBe(0);
  });

  it('undoes a run the workflow refused and passes the refusal on', async () => {
    const key = randomUUID();
    const refusal = new ConflictError('run_in_progress', 'busy');
    const err = await starter
      .start(request_({ idempotencyKey: key, launch: () => Promise.reject(refusal) }))
      .catch((e: unknown) => e);
    expect(err).toBe(refusal);
    expect(await runsWithKey(key)).toHaveLength(0);
  });

  it('keeps a run whose start is uncertain when asked to (the orphan sweeper closes it)', async () => {
    const key = randomUUID();
    const err = await starter
      .start(
        request_({
          idempotencyKey: key,
          launch: () => Promise.reject(new Error('4 DEADLINE_EXCEEDED')),
          keepWhenUncertain: true,
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, details: { run_id: expect.any(String) } });
    expect(await runsWithKey(key)).toHaveLength(1);
    // Without it, the same failure undoes.
    const key2 = randomUUID();
    await starter
      .start(request_({ idempotencyKey: key2, launch: () => Promise.reject(new Error('boom')) }))
      .catch(() => undefined);
    expect(await runsWithKey(key2)).toHaveLength(0);
  });
});

/** A service whose Temporal is down: the refused request leaves no row behind. */
describe('a turn refused because Temporal is unreachable', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = testPool();
  });
  afterAll(async () => {
    await pool.end();
  });

  it('leaves no session, seed message or run', async () => {
    const deadTemporal = {
      workflow: {
        // Turns of an idle session start directly; busy ones go through the entity.
        start: () => Promise.reject(unreachable()),
        executeUpdateWithStart: () => Promise.reject(unreachable()),
      },
    } as unknown as Client;
    const config = loadConfig(await platformEnv(), false);
    const turns = new TurnService(pool, new RunStarter(pool), deadTemporal, config);
    const user = `refused-${randomUUID()}`;
    const err = await turns
      .start({
        tenantId: DEFAULT_TENANT_ID,
        userId: user,
        seedHistory: [{ role: 'system', content: 'be brief' }],
        input: { messages: [{ role: 'user', content: 'hi' }], system: [], agent: 'default' },
        model: 'simulator',
        strategy: 'enqueue',
        requestFingerprint: { user },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'unavailable' });
    const left = await pool.query(
      `select (select count(*) from sessions where user_id = $1)::int as sessions,
              (select count(*) from runs where user_id = $1)::int as runs`,
      [user],
    );
    expect(left.rows[0]).toEqual({ sessions: 0, runs: 0 });
  });
});

/** Every kind of run, through the API: concurrent retries → one run; another body → 409 with its id. */
describe('Idempotency-Key on every POST that starts work', () => {
  let platform: Platform;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });
  beforeAll(async () => {
    platform = await startPlatform({ LLM_BASE_URL: '', OPENAI_API_KEY: '' });
  });
  afterAll(async () => {
    await platform?.close();
  });

  const countRuns = async (key: string) =>
    Number(
      (
        await platform.pool.query<{ n: string }>(
          'select count(*) as n from runs where idempotency_key = $1',
          [key],
        )
      ).rows[0].n,
    );

  const cases: {
    name: string;
    send: (key: string, variant: string) => request.Test;
    runId: (body: Record<string, unknown>) => string;
  }[] = [
    {
      name: 'POST /v1/memories',
      send: (key, variant) =>
        request(platform.url)
          .post('/v1/memories')
          .set({ ...auth(), 'Idempotency-Key': key })
          .send({ user_id: 'idem-user', text: `I like ${variant}`, infer: false }),
      runId: (b) => b.run_id as string,
    },
    {
      name: 'POST /v1/dreaming/runs',
      send: (key, variant) =>
        request(platform.url)
          .post('/v1/dreaming/runs')
          .set({ ...auth(), 'Idempotency-Key': key })
          .send({ user_id: `dreamer-${variant}`, dry_run: true }),
      runId: (b) => b.id as string,
    },
    {
      name: 'POST /v1/files',
      send: (key, variant) =>
        request(platform.url)
          .post('/v1/files?filename=notes.txt')
          .set({ ...auth(), 'Idempotency-Key': key, 'Content-Type': 'text/plain' })
          .send(`notes about ${variant}`),
      runId: (b) => b.run_id as string,
    },
    {
      name: 'POST /v1/sessions/{id}/messages',
      send: (key, variant) =>
        request(platform.url)
          .post(`/v1/sessions/${sessionId}/messages`)
          .set({ ...auth(), 'Idempotency-Key': key })
          .send({ content: `hello ${variant}` }),
      runId: (b) => (b.run as { id: string }).id,
    },
  ];
  let sessionId: string;
  beforeAll(async () => {
    const res = await request(platform.url).post('/v1/sessions').set(auth()).send({});
    sessionId = res.body.id as string;
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 5 }, () => c.send(key, 'tea')));
    for (const res of responses) expect(res.status).toBeLessThan(300);
    const ids = new Set(responses.map((res) => c.runId(res.body)));
    expect(ids.size).toBe(1);
    expect(await countRuns(key)).toBe(1);

    const conflict = await c.send(key, 'coffee');
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({
      code: 'idempotency_conflict',
      details: { run_id: [...ids][0] },
    });
    expect(await countRuns(key)).toBe(1);
  });

  it('a file upload retried with its key keeps one file and one blob', async () => {
    const key = randomUUID();
    const send = () =>
      request(platform.url)
        .post('/v1/files?filename=retry.txt')
        .set({ ...auth(), 'Idempotency-Key': key, 'Content-Type': 'text/plain' })
        .send('the same bytes twice');
    const a = await send();
    const b = await send();
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    const files = await platform.pool.query(
      'select 1 from files where filename = $1 and run_id = $2',
      ['retry.txt', a.body.run_id],
    );
    expect(files.rowCount).toBe(1);
  });
});
