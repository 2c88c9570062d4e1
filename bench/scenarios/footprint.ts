/**
 * `footprint`: memory of this process (API + worker + the bench itself) idle
 * and after the throughput load, and what one turn leaves behind: Temporal
 * history events and database rows.
 */
import { serverUsage } from '../procfs';
import { MODEL, progress, TENANT_ID, type Bench, type Row } from '../harness';
import { spread, type Spread } from '../stats';
import { WorkflowNotFoundError } from '@temporalio/client';
import { sessionWorkflowId, turnWorkflowId } from '../../workflows/session.workflow';
import { sessionLoad } from './throughput';

const MB = 1024 * 1024;

export async function footprint(bench: Bench): Promise<Row[]> {
  const { sessions, turns, footprintTurns, reps } = bench.profile;
  if (!bench.completed.includes('throughput')) {
    progress(`footprint: running ${sessions}×${turns} turns first (throughput was not selected)`);
    await sessionLoad(bench, bench.reverie, sessions, turns);
  }
  const rss = await sampleRss(reps);
  const servers = await serverUsage(bench.stack.processGroups);

  // Sequential turns in one session, each inspected after it finished.
  let sessionId: string | undefined;
  const perTurn = { history: [] as number[], messages: [] as number[], events: [] as number[] };
  for (let i = 0; i < footprintTurns; i++) {
    const { response } = await bench.reverie.chat.completions
      .create(
        { model: MODEL, messages: [{ role: 'user', content: bench.prompt(i) }] },
        { headers: sessionId ? { 'X-Session-Id': sessionId } : {} },
      )
      .withResponse();
    sessionId = response.headers.get('x-session-id')!;
    const runId = response.headers.get('x-run-id')!;
    perTurn.history.push(await historyLength(bench, turnWorkflowId(TENANT_ID, runId)));
    perTurn.messages.push(
      await count(bench, 'select count(*) from messages where run_id = $1', runId),
    );
    perTurn.events.push(
      await count(bench, 'select count(*) from run_events where run_id = $1', runId),
    );
  }
  const sessionEvents = await historyLength(bench, sessionWorkflowId(TENANT_ID, sessionId!));

  const one = (value: number): Spread => ({ min: value, median: value, max: value });
  const rows: Row[] = [
    {
      scenario: 'footprint',
      metric: 'RSS idle (this process)',
      unit: 'MB',
      reverie: one(bench.idleRss / MB),
    },
    {
      scenario: 'footprint',
      metric: 'RSS after throughput',
      unit: 'MB',
      reverie: spread(rss.map((r) => r / MB)),
    },
    {
      scenario: 'footprint',
      metric: 'turn workflow history events/turn',
      unit: 'events',
      reverie: spread(perTurn.history),
    },
    {
      scenario: 'footprint',
      metric: 'session workflow history events/turn',
      unit: 'events',
      reverie: one(sessionEvents / footprintTurns),
    },
    {
      scenario: 'footprint',
      metric: 'messages rows/turn',
      unit: 'rows',
      reverie: spread(perTurn.messages),
    },
    {
      scenario: 'footprint',
      metric: 'run_events rows/turn',
      unit: 'rows',
      reverie: spread(perTurn.events),
    },
    {
      scenario: 'footprint',
      metric: 'DB rows/turn (runs + messages + run_events)',
      unit: 'rows',
      reverie: spread(perTurn.events.map((e, i) => 1 + e + perTurn.messages[i])),
    },
  ];
  for (const [kind, usage] of servers) {
    rows.splice(2, 0, {
      scenario: 'footprint',
      metric: `RSS ${kind} (sum over processes)`,
      unit: 'MB',
      reverie: one(usage.rssBytes / MB),
    });
  }
  return rows;
}

/** Events in a workflow's history; 0 for one that never ran (a session whose turns started directly). */
async function historyLength(bench: Bench, workflowId: string): Promise<number> {
  try {
    const history = await bench.temporal.workflow.getHandle(workflowId).fetchHistory();
    return history.events?.length ?? 0;
  } catch (err) {
    // fetchHistory reports an unknown id as gRPC NOT_FOUND (5), not as WorkflowNotFoundError.
    if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5) return 0;
    throw err;
  }
}

async function count(bench: Bench, sql: string, runId: string): Promise<number> {
  const { rows } = await bench.pool.query<{ count: number }>(sql, [runId]);
  return Number(rows[0].count);
}

/** RSS of this process, `n` samples 100 ms apart. */
async function sampleRss(n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    samples.push(process.memoryUsage().rss);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return samples;
}
