import { markRunRunning } from '../db/runs';
import { many, maybeOne, withTransaction } from '../db/sql';
import type { Queryable } from '../db/pool';
import { appendRunEvents } from '../events/event-log';
import type { DreamDeps } from './dream-deps';
import { findOrCreateDreamRun } from './dream-run';
import { getDreamingState, type DreamRunRow } from './dream-store';
import { packPages, segmentEpisodes, type MessageMeta } from './episodes';
import { STAGE, progress } from './stage-events';

/** What `dreamingWorkflow` starts a user's run with. */
export interface BeginDreamInput {
  tenantId: string;
  userId: string;
  workflowId: string;
  windowEnd: string;
  /** Set when the API created the run; a scheduled run is created here. */
  runId?: string;
  dryRun?: boolean;
  tokenBudget?: number;
  parentRunId?: string;
}

/** The run and its plan: how many pages of how many messages, and new files. */
export interface BeginDreamResult {
  runId: string;
  pages: number;
  messages: number;
  files: number;
  /** Nothing new since the watermark: finish without calling any model. */
  skip: boolean;
}

type Plan = Omit<BeginDreamResult, 'runId'>;

/**
 * The window stage: create (or find) the run, announce it, and plan it once:
 * the messages of (watermark, windowEnd] cut into episodes and packed into
 * pages. The plan is stored on the run, so a retry returns the first plan.
 */
export async function beginDream(
  deps: DreamDeps,
  input: BeginDreamInput,
): Promise<BeginDreamResult> {
  const run = await findOrCreateDreamRun(deps, {
    runId: input.runId,
    tenantId: input.tenantId,
    workflowId: input.workflowId,
    input: {
      user_id: input.userId,
      window_end: input.windowEnd,
      dry_run: input.dryRun ?? false,
      token_budget: input.tokenBudget,
      parent_run_id: input.parentRunId ?? null,
    },
  });
  return withTransaction(deps.pool, async (tx) => {
    await markRunRunning(tx, run.id);
    const locked = await maybeOne<DreamRunRow>(tx, 'select * from runs where id = $1 for update', [
      run.id,
    ]);
    const planned = locked!.input.planned;
    if (planned) return { runId: run.id, ...planned };

    const { watermark } = await getDreamingState(tx, run.tenant_id, input.userId);
    const plan = await planWindow(deps, tx, run, input.userId, watermark);
    await tx.query(`update runs set input = input || $2::jsonb where id = $1`, [
      run.id,
      JSON.stringify({ watermark_from: watermark?.toISOString() ?? null, planned: plan }),
    ]);
    const fresh = locked!.last_seq === 0;
    await appendRunEvents(tx, run.id, [
      ...(fresh
        ? [
            {
              type: 'run.started' as const,
              data: { run_id: run.id, user_id: input.userId, model: run.model, kind: 'dream' },
            },
          ]
        : []),
      progress(STAGE.window, 'completed', {
        messages: plan.messages,
        pages: plan.pages,
        files: plan.files,
        watermark: watermark?.toISOString() ?? null,
      }),
    ]);
    return { runId: run.id, ...plan };
  });
}

/** Read the window's messages and new files, and store its pages (once per page). */
async function planWindow(
  { config }: DreamDeps,
  tx: Queryable,
  run: DreamRunRow,
  userId: string,
  watermark: Date | null,
): Promise<Plan> {
  const metas = await many<MessageMeta>(
    tx,
    `select m.id, m.session_id, m.created_at, length(m.content) as chars
     from sessions s join messages m on m.session_id = s.id
     where s.tenant_id = $1 and s.user_id = $2 and m.role in ('user', 'assistant') and m.content <> ''
       and m.created_at > coalesce($3::timestamptz, '-infinity') and m.created_at <= $4::timestamptz`,
    [run.tenant_id, userId, watermark, run.input.window_end],
  );
  const files = await maybeOne<{ n: number }>(
    tx,
    `select count(*)::int as n from files where tenant_id = $1 and user_id = $2 and status = 'ready'
       and created_at > coalesce($3::timestamptz, '-infinity') and created_at <= $4::timestamptz`,
    [run.tenant_id, userId, watermark, run.input.window_end],
  );
  const pageMessages = config.dreaming.pageMessages;
  const episodes = segmentEpisodes(metas, { maxEpisodeMessages: Math.min(50, pageMessages) });
  const pages = packPages(episodes, { maxPageMessages: pageMessages });
  for (const [index, page] of pages.entries()) {
    await tx.query(
      `insert into dream_pages (run_id, page, episodes, message_count) values ($1, $2, $3, $4)
       on conflict (run_id, page) do nothing`,
      [run.id, index, JSON.stringify(page.episodes), page.messageCount],
    );
  }
  return {
    pages: pages.length,
    messages: metas.length,
    files: files?.n ?? 0,
    skip: metas.length === 0 && !files?.n,
  };
}
