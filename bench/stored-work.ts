/**
 * `--stored`: before the scenarios, fill the bench's stack with the work of
 * earlier days, so per-turn cost can be compared on a fresh stack and on one
 * holding it: 100k finished turns (run, user + assistant message, 20 events
 * each) over 3000 idle sessions, and 2000 idle session entities in Temporal
 * (the entity path keeps one open for an hour after a session's last turn).
 */
import { progress, TENANT_ID, type Bench } from './harness';
import { sessionWorkflow, sessionWorkflowId } from '../workflows/session.workflow';

const RUNS = 100_000;
const SESSIONS = 3_000;
const EVENTS_PER_RUN = 20;
const ENTITIES = 2_000;

/** Seed Postgres with set-based inserts, then start the idle entities. */
export async function seedStoredWork(bench: Bench): Promise<void> {
  const started = Date.now();
  const { pool } = bench;
  await pool.query(
    `insert into sessions (id, tenant_id, agent, title, created_at, updated_at)
     select gen_random_uuid(), $1, 'default', 'stored ' || i, now() - interval '2 days', now() - interval '1 day'
     from generate_series(1, $2) i`,
    [TENANT_ID, SESSIONS],
  );
  await pool.query(
    `with s as (select id, row_number() over () - 1 as n from sessions where title like 'stored %')
     insert into runs (id, tenant_id, kind, status, session_id, model, input, workflow_id, usage,
                       last_seq, created_at, started_at, finished_at)
     select gen_random_uuid(), $1, 'turn', 'succeeded', s.id, 'fake-model',
            '{"messages":[{"role":"user","content":"stored"}],"system":[],"agent":"default"}',
            'turn:stored:' || i, '{"prompt_tokens":40,"completion_tokens":64,"total_tokens":104}',
            $3, now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
     from generate_series(0, $2 - 1) i join s on s.n = i % $4`,
    [TENANT_ID, RUNS, EVENTS_PER_RUN, SESSIONS],
  );
  progress(`stored work: ${RUNS} runs in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await pool.query(
    `insert into messages (id, tenant_id, session_id, run_id, role, content, idem_key, created_at)
     select gen_random_uuid(), $1, r.session_id, r.id, m.role, m.role || ' text of a stored turn',
            m.role || ':' || r.id, r.created_at
     from runs r cross join (values ('user'), ('assistant')) m(role)
     where r.workflow_id like 'turn:stored:%'`,
    [TENANT_ID],
  );
  await pool.query(
    `insert into run_events (run_id, seq, type, data, step, attempt, created_at)
     select r.id, e, case when e = $1 then 'done' else 'message.delta' end,
            '{"content":"tok "}', 0, 1, r.created_at
     from runs r cross join generate_series(1, $1) e
     where r.workflow_id like 'turn:stored:%'`,
    [EVENTS_PER_RUN],
  );
  await pool.query('analyze sessions; analyze runs; analyze messages; analyze run_events');
  progress(`stored work: rows in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const { rows } = await pool.query<{ id: string }>(
    `select id from sessions where title like 'stored %' limit $1`,
    [ENTITIES],
  );
  for (let i = 0; i < rows.length; i += 50) {
    await Promise.all(
      rows.slice(i, i + 50).map((s) =>
        bench.temporal.workflow.start(sessionWorkflow, {
          workflowId: sessionWorkflowId(TENANT_ID, s.id),
          taskQueue: bench.config.temporal.taskQueue,
          args: [
            {
              tenantId: TENANT_ID,
              sessionId: s.id,
              maxSteps: bench.config.turnMaxSteps,
              turnsBeforeContinueAsNew: bench.config.sessionTurnsBeforeContinueAsNew,
            },
          ],
        }),
      ),
    );
  }
  await explainHotQueries(bench);
  const size = await pool.query<{ size: string }>(
    'select pg_size_pretty(pg_database_size(current_database())) as size',
  );
  progress(
    `stored work seeded in ${((Date.now() - started) / 1000).toFixed(0)} s: ${RUNS} turns, ${SESSIONS} sessions, ${ENTITIES} idle entities, database ${size.rows[0].size}`,
  );
}

/** The per-turn queries that could grow with stored work: their plans, once seeded. */
const HOT_QUERIES: [string, string][] = [
  [
    'session claim',
    `select case when a.status in ('queued', 'running') then a.id end,
            exists (select 1 from runs r where r.session_id = s.id and r.kind = 'turn'
                    and r.status in ('queued', 'running'))
     from sessions s left join runs a on a.id = s.active_run_id where s.id = $1`,
  ],
  [
    'next queued turn',
    `select * from runs where session_id = $1 and kind = 'turn' and status = 'queued'
     order by created_at, id limit 1`,
  ],
  [
    'live runs of a session',
    `select * from runs where session_id = $1 and status in ('queued', 'running') order by created_at`,
  ],
  ['session history', 'select * from messages where session_id = $1 order by seq'],
  [
    // The tenant's turns, not the session's: $1 only keeps the parameter list alike.
    'active turns of a user',
    `select count(*)::int as n from runs
     where tenant_id = (select tenant_id from sessions where id = $1) and kind = 'turn'
       and status in ('queued', 'running') and user_id is not distinct from null`,
  ],
  [
    'orphan sweep',
    `select id from runs where kind = 'turn' and status = 'queued' and last_seq = 0
       and session_id is not null and created_at < now() - interval '2 minutes'
       and not exists (select 1 from sessions s where s.id = runs.session_id
                       and s.active_run_id is not null) and $1::uuid is not null
     order by created_at limit 100`,
  ],
];

async function explainHotQueries(bench: Bench): Promise<void> {
  const { rows } = await bench.pool.query<{ id: string }>(
    `select id from sessions where title like 'stored %' limit 1`,
  );
  for (const [name, sql] of HOT_QUERIES) {
    const plan = await bench.pool
      .query<{ 'QUERY PLAN': string }>(
        `explain (analyze, costs off, timing off, summary on) ${sql}`,
        [rows[0].id],
      )
      // Code before migration 0008 has no claim columns.
      .catch((err: Error) => ({ rows: [{ 'QUERY PLAN': `Scan n/a: ${err.message}` }] }));
    const lines = plan.rows.map((r) => r['QUERY PLAN']);
    progress(`plan of ${name}: ${lines.filter((l) => /Scan|Execution/.test(l)).join(' | ')}`);
  }
}
