import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { finishRun, markRunRunning, markRunStarted } from '../src/db/runs';
import { many, maybeOne, withTransaction } from '../src/db/sql';
import { computeAffinity, linkKey, upsertAffinity } from '../src/dreaming/affinity';
import {
  addDreamUsage,
  advanceWatermark,
  changeCounts,
  ensureDreamRun,
  getDreamingState,
  getStep,
  pageResults,
  recordChanges,
  saveStepResult,
  STEP,
  usersWithNewActivity,
  type DreamRunInput,
  type DreamRunRow,
  type NewChange,
} from '../src/dreaming/dream-store';
import { packPages, segmentEpisodes, type MessageMeta } from '../src/dreaming/episodes';
import { runJsonStep } from '../src/dreaming/json-step';
import {
  draftMoments,
  loadMessages,
  momentsPromptInput,
  momentText,
  upsertMoment,
  type MomentDraft,
} from '../src/dreaming/moments';
import {
  checkEvidence,
  diffProfile,
  evidenceOf,
  getUserProfile,
  saveProfile,
} from '../src/dreaming/profile';
import {
  MOMENTS_PROMPT_VERSION,
  MOMENTS_SYSTEM,
  PROFILE_PROMPT_VERSION,
  PROFILE_SYSTEM,
} from '../src/dreaming/prompts';
import { MomentsAnswer, ProfileAnswer } from '../src/dreaming/schemas';
import { appendRunEvents, appendRunEventsInTransaction } from '../src/events/event-log';
import type { NewRunEvent } from '../src/events/types';
import { factHash } from '../src/memory/content-hash';
import { findCurrentByHash } from '../src/memory/memory-store';
import { rememberFacts, type MemoryResult } from '../src/memory/remember';
import type { ActivityDeps } from './deps';
import { loadRun } from '../src/runs/load-run';
import { mapFailures } from './failure-mapping';

/** Stages of a dreaming run, as its progress events number them. */
const STAGES = [
  'Reading new activity',
  'Building moments',
  'Consolidating facts',
  'Building the profile',
  'Linking related moments and files',
];
/** Facts per consolidation call (the memory pipeline's own cap). */
const FACTS_PER_BATCH = 20;
/** What a profile step is shown at most. */
const PROFILE_MOMENTS = 60;
const PROFILE_MEMORIES = 50;
const PROFILE_FILES = 50;
/** A dreaming step's model call heartbeats this often, so a lost worker is noticed in seconds. */
const HEARTBEAT_MS = 1000;

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

export interface BeginDreamResult {
  runId: string;
  pages: number;
  messages: number;
  files: number;
  /** Nothing new since the watermark: finish without calling any model. */
  skip: boolean;
}

/** What a model step reports back to the workflow (small; the content stays in Postgres). */
export interface DreamStepResult {
  budgetExceeded: boolean;
  changes: number;
  warnings: number;
}

interface PageResult {
  moments: Pick<
    MomentDraft,
    'id' | 'title' | 'summary' | 'topics' | 'entities' | 'starts_at' | 'source_message_ids'
  >[];
  facts: { content: string; category: string | null; message_ids: string[] }[];
  warnings: string[];
  model: string;
}

/** The activities of `dreamingWorkflow` and `dreamAllWorkflow`. Each is idempotent per run. */
export function createDreamingActivities(deps: ActivityDeps) {
  const { pool, config, models } = deps;

  const loadDreamRun = async (runId: string) =>
    (await loadRun(pool, runId)) as unknown as DreamRunRow;
  const chainOf = (run: DreamRunRow) =>
    models.chainFor(run.model ?? config.dreaming.model ?? models.defaultModel);
  const overBudget = (run: DreamRunRow) => (run.usage.total_tokens ?? 0) >= run.input.token_budget;
  const scopeOf = (run: DreamRunRow) => ({
    tenantId: run.tenant_id,
    userId: run.input.user_id!,
    runId: run.id,
  });
  const changeScope = (run: DreamRunRow) => ({
    id: run.id,
    tenantId: run.tenant_id,
    userId: run.input.user_id!,
    applied: !run.input.dry_run,
  });
  const progress = (
    stage: number,
    status: 'in_progress' | 'completed',
    extra: Record<string, unknown> = {},
  ): NewRunEvent => ({
    type: 'progress',
    data: { step: stage + 1, total_steps: STAGES.length, label: STAGES[stage], status, ...extra },
  });
  const warningEvents = (warnings: string[]): NewRunEvent[] =>
    warnings.map((warning) => ({ type: 'metadata', data: { warning } }));

  /** Run `fn` while heartbeating, with the activity's cancellation signal. */
  async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
    try {
      return await fn(ctx.cancellationSignal);
    } finally {
      clearInterval(timer);
    }
  }

  return mapFailures({
    /**
     * Create (or find) the run, announce it, and plan it once: the messages
     * of (watermark, windowEnd] cut into episodes and packed into pages.
     */
    async beginDream(input: BeginDreamInput): Promise<BeginDreamResult> {
      const model = config.dreaming.model ?? models.defaultModel;
      const run = input.runId
        ? await loadDreamRun(input.runId)
        : await ensureDreamRun(pool, {
            id: randomUUID(),
            tenantId: input.tenantId,
            workflowId: input.workflowId,
            model,
            input: {
              user_id: input.userId,
              window_end: input.windowEnd,
              dry_run: input.dryRun ?? false,
              token_budget: input.tokenBudget ?? config.dreaming.tokenBudget,
              parent_run_id: input.parentRunId ?? null,
            },
          });
      return withTransaction(pool, async (tx) => {
        await markRunRunning(tx, run.id);
        const locked = await maybeOne<DreamRunRow>(
          tx,
          'select * from runs where id = $1 for update',
          [run.id],
        );
        const planned = locked!.input.planned;
        if (planned) return { runId: run.id, ...planned };

        const { watermark } = await getDreamingState(tx, run.tenant_id, input.userId);
        const metas = await many<MessageMeta>(
          tx,
          `select m.id, m.session_id, m.created_at, length(m.content) as chars
           from sessions s join messages m on m.session_id = s.id
           where s.tenant_id = $1 and s.user_id = $2 and m.role in ('user', 'assistant') and m.content <> ''
             and m.created_at > coalesce($3::timestamptz, '-infinity') and m.created_at <= $4::timestamptz`,
          [run.tenant_id, input.userId, watermark, run.input.window_end],
        );
        const files = await maybeOne<{ n: number }>(
          tx,
          `select count(*)::int as n from files where tenant_id = $1 and user_id = $2 and status = 'ready'
             and created_at > coalesce($3::timestamptz, '-infinity') and created_at <= $4::timestamptz`,
          [run.tenant_id, input.userId, watermark, run.input.window_end],
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
        const plan = {
          pages: pages.length,
          messages: metas.length,
          files: files?.n ?? 0,
          skip: metas.length === 0 && !files?.n,
        };
        await tx.query(`update runs set input = input || $2::jsonb where id = $1`, [
          run.id,
          JSON.stringify({ watermark_from: watermark?.toISOString() ?? null, planned: plan }),
        ]);
        const fresh = locked!.last_seq === 0;
        await appendRunEventsInTransaction(tx, run.id, [
          ...(fresh
            ? [
                {
                  type: 'run.started' as const,
                  data: { run_id: run.id, user_id: input.userId, model: run.model, kind: 'dream' },
                },
              ]
            : []),
          progress(0, 'completed', {
            messages: plan.messages,
            pages: plan.pages,
            files: plan.files,
            watermark: watermark?.toISOString() ?? null,
          }),
        ]);
        return { runId: run.id, ...plan };
      });
    },

    /** One page: one model call → moments (stored, embedded) and candidate facts (kept for consolidation). */
    async dreamPage({ runId, page }: { runId: string; page: number }): Promise<DreamStepResult> {
      const step = await getStep(pool, runId, page);
      if (!step) throw new Error(`page ${page} of dreaming run ${runId} was never planned`);
      if (step.result) return summarise(step.result as unknown as PageResult);
      const run = await loadDreamRun(runId);
      if (overBudget(run)) return { budgetExceeded: true, changes: 0, warnings: 0 };
      const scope = scopeOf(run);
      const ids = step.episodes.flatMap((e) => e.message_ids);
      const messages = new Map(
        (await loadMessages(pool, run.tenant_id, ids)).map((m) => [m.id, m]),
      );
      const episodes = step.episodes
        .map((e) => ({
          ...e,
          message_ids: e.message_ids.filter((id) => messages.has(id)),
          chars: 0,
        }))
        .filter((e) => e.message_ids.length > 0);

      const answer = await withHeartbeat((signal) =>
        runJsonStep(chainOf(run), {
          system: MOMENTS_SYSTEM,
          user: momentsPromptInput(scope.userId, episodes, messages),
          schema: MomentsAnswer,
          signal,
          onCall: (usage) => addDreamUsage(pool, runId, usage),
        }),
      );
      const warnings = answer.warnings.map((w) => `page ${page + 1}: ${w}`);
      let drafts: MomentDraft[] = [];
      const facts: PageResult['facts'] = [];
      if (answer.value) {
        const drafted = draftMoments(scope, episodes, messages, answer.value);
        drafts = drafted.drafts;
        if (drafted.missing.length)
          warnings.push(`page ${page + 1}: no moment for episodes ${drafted.missing.join(', ')}`);
        const pageIds = new Set(ids);
        for (const fact of answer.value.facts) {
          const episode = fact.episode
            ? episodes[Number(fact.episode.replace(/^e/, '')) - 1]
            : undefined;
          const cited = (fact.message_ids ?? []).filter((id) => pageIds.has(id));
          facts.push({
            content: fact.content,
            category: fact.category ?? null,
            message_ids: cited.length ? cited : (episode?.message_ids ?? []),
          });
        }
      } else {
        warnings.push(`page ${page + 1}: skipped, the model gave no valid answer`);
      }
      const vectors = drafts.length ? await deps.embedder.embed(drafts.map(momentText)) : [];

      const result: PageResult = {
        moments: drafts.map((d) => ({
          id: d.id,
          title: d.title,
          summary: d.summary,
          topics: d.topics,
          entities: d.entities,
          starts_at: d.starts_at,
          source_message_ids: d.source_message_ids,
        })),
        facts,
        warnings,
        model: answer.model,
      };
      await withTransaction(pool, async (tx) => {
        // Serialise with a retry of this very page that raced us.
        const current = await maybeOne<{ result: unknown }>(
          tx,
          'select result from dream_pages where run_id = $1 and page = $2 for update',
          [runId, page],
        );
        if (current?.result) return;
        const changes: NewChange[] = [];
        for (const [i, draft] of drafts.entries()) {
          const provenance = {
            sourceMessageIds: draft.source_message_ids,
            model: answer.model,
            promptVersion: MOMENTS_PROMPT_VERSION,
          };
          const after = {
            title: draft.title,
            summary: draft.summary,
            topics: draft.topics,
            entities: draft.entities,
            starts_at: draft.starts_at,
            ends_at: draft.ends_at,
          };
          if (run.input.dry_run) {
            changes.push({
              changeKey: `moment:${draft.key}`,
              kind: 'moment',
              action: 'add',
              targetId: draft.id,
              after,
              ...provenance,
            });
            continue;
          }
          const outcome = await upsertMoment(
            tx,
            { ...scope, model: answer.model, promptVersion: MOMENTS_PROMPT_VERSION },
            draft,
            vectors[i],
          );
          if (outcome.action === 'noop') continue;
          changes.push({
            changeKey: `moment:${draft.key}`,
            kind: 'moment',
            action: outcome.action,
            targetId: draft.id,
            before: outcome.before,
            after,
            ...provenance,
          });
        }
        await recordChanges(tx, changeScope(run), changes);
        await saveStepResult(tx, runId, page, result);
        await appendRunEventsInTransaction(tx, runId, [
          progress(1, 'in_progress', {
            page: page + 1,
            moments: drafts.length,
            facts: facts.length,
          }),
          ...warningEvents(warnings),
        ]);
      });
      return summarise(result);
    },

    /** Candidate facts of every page into the user's memories (ADD/UPDATE/DELETE/NOOP with history). */
    async consolidateDreamFacts({ runId }: { runId: string }): Promise<DreamStepResult> {
      const done = await getStep(pool, runId, STEP.facts);
      if (done?.result) return done.result as unknown as DreamStepResult;
      const run = await loadDreamRun(runId);
      if (overBudget(run)) return { budgetExceeded: true, changes: 0, warnings: 0 };
      const scope = scopeOf(run);
      const facts = (await pageResults(pool, runId)).flatMap(
        (p) => (p.result as unknown as PageResult | null)?.facts ?? [],
      );
      let changes = 0;
      if (run.input.dry_run) {
        // The memory pipeline has no dry run: propose what the cheap dedupe cannot rule out.
        const proposed: NewChange[] = [];
        for (const fact of facts) {
          const hash = factHash(fact.content);
          if (await findCurrentByHash(pool, scope.tenantId, scope.userId, hash)) continue;
          proposed.push({
            changeKey: `memory:${hash}`,
            kind: 'memory',
            action: 'add',
            targetId: hash,
            after: { content: fact.content, category: fact.category },
            sourceMessageIds: fact.message_ids,
            model: run.model,
            promptVersion: MOMENTS_PROMPT_VERSION,
          });
        }
        await recordChanges(pool, changeScope(run), proposed);
        changes = proposed.length;
      } else {
        for (let batch = 0; batch * FACTS_PER_BATCH < facts.length; batch++) {
          const marker = STEP.facts * 1000 - batch;
          if ((await getStep(pool, runId, marker))?.result) continue;
          const slice = facts.slice(batch * FACTS_PER_BATCH, (batch + 1) * FACTS_PER_BATCH);
          const sources = (text: string) =>
            slice.find((f) => f.content.trim().replace(/\s+/g, ' ') === text)?.message_ids ?? [];
          const outcome = await withHeartbeat((signal) =>
            rememberFacts(
              { pool, config, embedder: deps.embedder, models, log: deps.log },
              {
                tenantId: scope.tenantId,
                userId: scope.userId,
                facts: slice.map((f) => ({ text: f.content, category: f.category })),
                source: 'dreaming',
                runId,
                messageIds: [...new Set(slice.flatMap((f) => f.message_ids))].slice(0, 500),
                model: run.model,
                finalize: async (tx, result) => {
                  const recorded = memoryChanges(result.results, sources, run.model);
                  await recordChanges(tx, changeScope(run), recorded);
                  await saveStepResult(tx, runId, marker, { changes: recorded.length });
                },
              },
              signal,
            ),
          );
          if (outcome.usage.model_calls > 0)
            await addDreamUsage(pool, runId, outcome.usage, outcome.usage.model_calls);
          changes += outcome.results.filter((r) => r.event !== 'NOOP').length;
        }
      }
      const result: DreamStepResult = { budgetExceeded: false, changes, warnings: 0 };
      await withTransaction(pool, async (tx) => {
        await saveStepResult(tx, runId, STEP.facts, result);
        await appendRunEventsInTransaction(tx, runId, [
          progress(2, 'completed', { facts: facts.length, changes }),
        ]);
      });
      return result;
    },

    /** The user's profile from this run's moments, current memories and new files, with evidence ids. */
    async buildDreamProfile({ runId }: { runId: string }): Promise<DreamStepResult> {
      const done = await getStep(pool, runId, STEP.profile);
      if (done?.result) return done.result as unknown as DreamStepResult;
      const run = await loadDreamRun(runId);
      if (overBudget(run)) return { budgetExceeded: true, changes: 0, warnings: 0 };
      const scope = scopeOf(run);
      const pages = (await pageResults(pool, runId)).map(
        (p) => p.result as unknown as PageResult | null,
      );
      const moments = pages
        .flatMap((p) => p?.moments ?? [])
        .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
        .slice(-PROFILE_MOMENTS);
      const memories = await many<{ id: string; content: string }>(
        pool,
        `select id, content from memories where tenant_id = $1 and user_id = $2 and valid_to is null
         order by updated_at desc limit $3`,
        [scope.tenantId, scope.userId, PROFILE_MEMORIES],
      );
      const files = await many<{ id: string; filename: string }>(
        pool,
        `select id, filename from files where tenant_id = $1 and user_id = $2 and status = 'ready'
           and created_at > coalesce($3::timestamptz, '-infinity') and created_at <= $4::timestamptz
         order by created_at desc limit $5`,
        [
          scope.tenantId,
          scope.userId,
          run.input.watermark_from ?? null,
          run.input.window_end,
          PROFILE_FILES,
        ],
      );
      const previous = await getUserProfile(pool, scope.tenantId, scope.userId);
      const finish = async (
        result: DreamStepResult,
        events: NewRunEvent[],
        write?: (tx: pg.PoolClient) => Promise<void>,
      ) => {
        await withTransaction(pool, async (tx) => {
          const current = await maybeOne<{ result: unknown }>(
            tx,
            'select result from dream_pages where run_id = $1 and page = $2 for update',
            [runId, STEP.profile],
          );
          if (current?.result) return;
          await write?.(tx);
          await saveStepResult(tx, runId, STEP.profile, result);
          await appendRunEventsInTransaction(tx, runId, [
            ...events,
            progress(3, 'completed', { changes: result.changes }),
          ]);
        });
        return result;
      };
      if (moments.length === 0 && files.length === 0)
        return finish({ budgetExceeded: false, changes: 0, warnings: 0 }, []);

      const answer = await withHeartbeat((signal) =>
        runJsonStep(chainOf(run), {
          system: PROFILE_SYSTEM,
          user: {
            user_id: scope.userId,
            previous_profile: previous?.profile ?? null,
            moments: moments.map((m) => ({
              id: m.id,
              title: m.title,
              summary: m.summary,
              topics: m.topics,
              entities: m.entities,
              at: m.starts_at,
            })),
            memories,
            files,
          },
          schema: ProfileAnswer,
          signal,
          onCall: (usage) => addDreamUsage(pool, runId, usage),
        }),
      );
      const warnings = answer.warnings.map((w) => `profile: ${w}`);
      if (!answer.value) {
        warnings.push('profile: skipped, the model gave no valid answer');
        return finish(
          { budgetExceeded: false, changes: 0, warnings: warnings.length },
          warningEvents(warnings),
        );
      }
      const known = new Set([
        ...moments.map((m) => m.id),
        ...memories.map((m) => m.id),
        ...files.map((f) => f.id),
      ]);
      const { profile, unknown } = checkEvidence(answer.value, known);
      if (unknown.length)
        warnings.push(`profile: dropped ${unknown.length} evidence ids the model was not shown`);
      const evidence = evidenceOf(profile);
      const sourcesOf = (ids: string[]) =>
        [
          ...new Set(
            moments.filter((m) => ids.includes(m.id)).flatMap((m) => m.source_message_ids),
          ),
        ].slice(0, 200);
      const diffs = diffProfile(previous?.profile, profile);
      const changes: NewChange[] = diffs.map((d) => ({
        changeKey: `profile:${d.field}`,
        kind: 'profile',
        action: 'set',
        targetId: scope.userId,
        field: d.field,
        before: d.before,
        after: d.after,
        sourceMessageIds: sourcesOf(evidence[d.field] ?? moments.map((m) => m.id)),
        model: answer.model,
        promptVersion: PROFILE_PROMPT_VERSION,
      }));
      return finish(
        { budgetExceeded: false, changes: changes.length, warnings: warnings.length },
        warningEvents(warnings),
        async (tx) => {
          if (!run.input.dry_run && changes.length > 0)
            await saveProfile(tx, scope, profile, evidence);
          await recordChanges(tx, changeScope(run), changes);
        },
      );
    },

    /** Affinity links from this run's moments to related moments and files (no model call). */
    async linkDreamAffinity({ runId }: { runId: string }): Promise<DreamStepResult> {
      const done = await getStep(pool, runId, STEP.affinity);
      if (done?.result) return done.result as unknown as DreamStepResult;
      const run = await loadDreamRun(runId);
      const scope = scopeOf(run);
      const momentIds = (await pageResults(pool, runId)).flatMap(
        (p) => (p.result as unknown as PageResult | null)?.moments.map((m) => m.id) ?? [],
      );
      // A dry run stored no moments to link.
      const links = run.input.dry_run ? [] : await computeAffinity(pool, scope, momentIds);
      return withTransaction(pool, async (tx) => {
        const fresh = await upsertAffinity(tx, scope, links);
        await recordChanges(
          tx,
          changeScope(run),
          fresh.map((l) => ({
            changeKey: `affinity:${linkKey(l)}`,
            kind: 'affinity',
            action: 'add',
            targetId: linkKey(l),
            after: {
              source_id: l.sourceId,
              target_type: l.targetType,
              target_id: l.targetId,
              score: l.score,
              similarity: l.similarity,
              shared_entities: l.sharedEntities,
            },
          })),
        );
        const result = { budgetExceeded: false, changes: fresh.length, warnings: 0 };
        await saveStepResult(tx, runId, STEP.affinity, result);
        await appendRunEventsInTransaction(tx, runId, [
          progress(4, 'completed', { links: links.length, new_links: fresh.length }),
        ]);
        return result;
      });
    },

    /**
     * End the run. A run that succeeded (and is not a dry run) moves the
     * watermark to its window end in the same commit: nothing is skipped if
     * any step before failed.
     */
    async finishDream(input: {
      runId: string;
      status: 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
      reason: string;
      error?: { code: string; message: string };
    }): Promise<void> {
      await withTransaction(pool, async (tx) => {
        const run = (await loadRun(tx, input.runId)) as unknown as DreamRunRow;
        if (input.status === 'succeeded' && !run.input.dry_run && run.input.user_id) {
          await advanceWatermark(
            tx,
            run.tenant_id,
            run.input.user_id,
            run.input.window_end,
            run.id,
          );
        }
        const finished = (await finishRun(tx, input.runId, {
          status: input.status,
          error: input.error ?? null,
        })) as unknown as DreamRunRow | undefined;
        if (!finished) return;
        const events: NewRunEvent[] = [];
        if (input.error) events.push({ type: 'error', data: input.error });
        events.push({
          type: 'usage',
          data: {
            prompt_tokens: finished.usage.prompt_tokens ?? 0,
            completion_tokens: finished.usage.completion_tokens ?? 0,
            total_tokens: finished.usage.total_tokens ?? 0,
          },
        });
        events.push({
          type: 'done',
          data: {
            reason: input.reason,
            message_id: null,
            dry_run: run.input.dry_run,
            changes: await changeCounts(tx, run.id),
          },
        });
        await appendRunEventsInTransaction(tx, run.id, events);
      });
    },

    /** The fan-out's own run (kind `dream`, no user), created once per workflow. */
    async beginDreamAll(input: {
      tenantId: string;
      workflowId: string;
      windowEnd: string;
      runId?: string;
      dryRun?: boolean;
      tokenBudget?: number;
    }): Promise<string> {
      const run = input.runId
        ? await loadDreamRun(input.runId)
        : await ensureDreamRun(pool, {
            id: randomUUID(),
            tenantId: input.tenantId,
            workflowId: input.workflowId,
            model: config.dreaming.model ?? models.defaultModel,
            input: {
              user_id: null,
              window_end: input.windowEnd,
              dry_run: input.dryRun ?? false,
              token_budget: input.tokenBudget ?? config.dreaming.tokenBudget,
            },
          });
      await withTransaction(pool, async (tx) => {
        if (await markRunStarted(tx, run.id))
          await appendRunEventsInTransaction(tx, run.id, [
            {
              type: 'run.started',
              data: { run_id: run.id, kind: 'dream', window_end: input.windowEnd },
            },
          ]);
      });
      return run.id;
    },

    /** Users with messages or files since their watermark, a page at a time; the others cost nothing. */
    async listDreamUsers(input: {
      tenantId: string;
      windowEnd: string;
      after: string | null;
      limit: number;
    }): Promise<{ userIds: string[]; next: string | null }> {
      const userIds = await usersWithNewActivity(pool, input.tenantId, input.windowEnd, {
        after: input.after,
        limit: input.limit,
      });
      return { userIds, next: userIds.length === input.limit ? userIds[userIds.length - 1] : null };
    },

    async reportDreamAllProgress(input: {
      runId: string;
      userId: string;
      status: string;
      done: number;
      found: number;
    }): Promise<void> {
      await appendRunEvents(pool, input.runId, [
        {
          type: 'progress',
          data: {
            step: input.done,
            total_steps: input.found,
            label: `Dreamt user ${input.userId}`,
            status: 'completed',
            user_id: input.userId,
            outcome: input.status,
          },
        },
      ]);
    },

    async finishDreamAll(input: { runId: string; users: number; failed: number }): Promise<void> {
      await withTransaction(pool, async (tx) => {
        const finished = await finishRun(tx, input.runId, { status: 'succeeded' });
        if (!finished) return;
        await appendRunEventsInTransaction(tx, input.runId, [
          {
            type: 'done',
            data: {
              reason: 'completed',
              message_id: null,
              users: input.users,
              failed: input.failed,
            },
          },
        ]);
      });
    },
  });
}

function summarise(result: PageResult): DreamStepResult {
  return {
    budgetExceeded: false,
    changes: result.moments.length,
    warnings: result.warnings.length,
  };
}

/** Change-log entries for what the memory pipeline did (NOOPs change nothing). */
function memoryChanges(
  results: MemoryResult[],
  sources: (text: string) => string[],
  model: string | null,
): NewChange[] {
  const changes: NewChange[] = [];
  for (const r of results) {
    if (r.event === 'NOOP' || !r.id) continue;
    const action = r.event === 'ADD' ? 'add' : r.event === 'UPDATE' ? 'update' : 'invalidate';
    changes.push({
      changeKey: `memory:${r.id}:${r.event}`,
      kind: 'memory',
      action,
      targetId: r.id,
      before: r.event === 'ADD' ? null : { content: r.previous_memory ?? r.memory },
      after: r.event === 'DELETE' ? null : { content: r.memory },
      sourceMessageIds: sources(r.memory),
      model,
      promptVersion: 'memory-consolidation',
    });
  }
  return changes;
}

export type { DreamRunInput };
