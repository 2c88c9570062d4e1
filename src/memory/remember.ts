import type { PoolClient } from 'pg';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import { withTransaction } from '../db/sql';
import type { Embedder } from '../embeddings/embedder';
import type { Logger } from '../logger';
import { completeJson, validValue } from '../providers/complete-json';
import type { ModelRouter } from '../providers/model-router';
import { factHash, normaliseFact } from './content-hash';
import {
  addMemory,
  deleteMemory,
  findCurrentByHash,
  lockUserMemories,
  searchMemories,
  updateMemory,
  type ChangeSource,
  type ScoredMemory,
} from './memory-store';
import {
  CONSOLIDATE_SYSTEM,
  Decisions,
  DECISIONS_JSON_SCHEMA,
  EXTRACT_JSON_SCHEMA,
  EXTRACT_SYSTEM,
  ExtractedFacts,
  type ConsolidateInput,
} from './memory-prompts';

/**
 * The memory pipeline: facts from messages (one model call), then for each
 * fact, before any model is asked, a cheap deterministic dedupe (normalised
 * text hash, then cosine ≥ threshold against the user's memories), so
 * re-adding a fact can never delete or duplicate one. Only facts with similar
 * but different memories go to the model for ADD / UPDATE / DELETE / NOOP,
 * in one call; its answer is checked against the same rules before anything
 * is written, in one transaction per run.
 */

export interface MemoryDeps {
  pool: Pool;
  config: Config;
  embedder: Embedder;
  models: ModelRouter;
  log?: Logger;
}

export interface CandidateFact {
  text: string;
  category?: string | null;
}

export type MemoryResultEvent = 'ADD' | 'UPDATE' | 'DELETE' | 'NOOP';

/** What happened to one fact (mem0's result shape). */
export interface MemoryResult {
  id: string | null;
  memory: string;
  event: MemoryResultEvent;
  previous_memory?: string;
  /** Why: `duplicate` (same text), `similar` (cosine), `model`, `no_related`. */
  reason: string;
}

export interface MemoryUsage {
  prompt_tokens: number;
  completion_tokens: number;
  model_calls: number;
}

export interface RememberOutcome {
  results: MemoryResult[];
  usage: MemoryUsage;
}

/** Facts per run: more is a model rambling, not a conversation's worth. */
const MAX_FACTS = 20;
/** Similar memories shown to the model per fact. */
const RELATED_PER_FACT = 5;

const emptyUsage = (): MemoryUsage => ({ prompt_tokens: 0, completion_tokens: 0, model_calls: 0 });

/** The model chain of memory calls. */
function memoryChain(deps: MemoryDeps, model?: string | null) {
  return deps.models.chainFor(deps.config.memory.model ?? model ?? deps.models.defaultModel);
}

/**
 * Candidate facts about the user in these messages (user and assistant turns).
 * @throws ProviderError / ModelOutputError from the model call
 */
export async function extractFacts(
  deps: MemoryDeps,
  input: { messages: { role: string; content: string }[]; model?: string | null },
  signal?: AbortSignal,
): Promise<{ facts: CandidateFact[]; usage: MemoryUsage }> {
  const messages = input.messages.filter(
    (m) => (m.role === 'user' || m.role === 'assistant') && m.content.trim(),
  );
  const usage = emptyUsage();
  if (!messages.some((m) => m.role === 'user')) return { facts: [], usage };
  const user = {
    messages: messages.map((m) => ({ role: m.role, content: m.content.slice(0, 8000) })),
  };
  const res = await completeJson(memoryChain(deps, input.model), {
    messages: [
      { role: 'system', content: EXTRACT_SYSTEM },
      { role: 'user', content: JSON.stringify(user) },
    ],
    format: { type: 'json_schema', name: 'memory_facts', schema: EXTRACT_JSON_SCHEMA },
    schema: ExtractedFacts,
    // Memory runs account what providers report, never estimates.
    missingUsage: 'zero',
    signal,
  });
  const extracted = validValue(res, 'memory_facts');
  addUsage(usage, res.usage);
  const facts = extracted.facts
    .map((f) => ({ text: f.text.trim(), category: f.category ?? null }))
    .filter((f) => f.text.length > 0 && f.text.length <= 1000);
  return { facts, usage };
}

interface Candidate {
  index: number;
  text: string;
  hash: string;
  category: string | null;
  vector?: number[];
  related: ScoredMemory[];
  result?: MemoryResult;
  /** The decision once made: what to write. */
  action?: { event: 'ADD' } | { event: 'UPDATE' | 'DELETE'; target: ScoredMemory; text?: string };
}

/**
 * Consolidate candidate facts into the user's memories and write the outcome.
 * @throws ProviderError from embeddings or the decision call (retryable ones may be retried: the
 * whole run is one transaction, and re-running it finds its own writes as duplicates)
 */
export async function rememberFacts(
  deps: MemoryDeps,
  input: {
    tenantId: string;
    userId: string;
    facts: CandidateFact[];
    source: ChangeSource;
    runId?: string | null;
    messageIds?: string[];
    model?: string | null;
    /** Runs inside the writing transaction, after the writes (e.g. to record the run as done). */
    finalize?: (tx: PoolClient, outcome: RememberOutcome) => Promise<void>;
  },
  signal?: AbortSignal,
): Promise<RememberOutcome> {
  const { tenantId, userId } = input;
  const usage = emptyUsage();
  const { dedupeThreshold, relatedMinScore } = deps.config.memory;
  const outcome = (): RememberOutcome => ({
    results: candidates.map((c) => c.result).filter((r) => r !== undefined),
    usage,
  });

  // 1. Normalised-text hash: duplicates within the batch and of existing memories.
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  for (const fact of input.facts.slice(0, MAX_FACTS)) {
    const text = fact.text.trim().replace(/\s+/g, ' ');
    const hash = factHash(text);
    if (!normaliseFact(text) || seen.has(hash)) continue;
    seen.add(hash);
    candidates.push({
      index: candidates.length,
      text,
      hash,
      category: fact.category ?? null,
      related: [],
    });
  }
  for (const c of candidates) {
    const same = await findCurrentByHash(deps.pool, tenantId, userId, c.hash);
    if (same) c.result = { id: same.id, memory: same.content, event: 'NOOP', reason: 'duplicate' };
  }

  // 2. Cosine against the user's memories (and earlier facts of this batch).
  const open = candidates.filter((c) => !c.result);
  if (open.length > 0) {
    const vectors = await deps.embedder.embed(open.map((c) => c.text));
    open.forEach((c, i) => (c.vector = vectors[i]));
  }
  for (const c of open) {
    const similar = await searchMemories(deps.pool, {
      tenantId,
      userId,
      vector: c.vector!,
      limit: RELATED_PER_FACT,
    });
    const top = similar[0];
    if (top && top.score >= dedupeThreshold) {
      c.result = { id: top.id, memory: top.content, event: 'NOOP', reason: 'similar' };
      continue;
    }
    const twin = open.find(
      (o) =>
        o !== c &&
        o.index < c.index &&
        !o.result &&
        cosine(o.vector!, c.vector!) >= dedupeThreshold,
    );
    if (twin) {
      c.result = { id: null, memory: c.text, event: 'NOOP', reason: 'similar' };
      continue;
    }
    c.related = similar.filter((s) => s.score >= relatedMinScore);
    if (c.related.length === 0) c.action = { event: 'ADD' };
  }

  // 3. One model call for the facts that touch existing memories.
  const undecided = open.filter((c) => !c.result && !c.action);
  if (undecided.length > 0) {
    const shortIds = new Map<string, ScoredMemory>();
    const existing: ConsolidateInput['existing'] = [];
    for (const c of undecided) {
      for (const r of c.related) {
        if ([...shortIds.values()].some((m) => m.id === r.id)) continue;
        const shortId = String(shortIds.size);
        shortIds.set(shortId, r);
        existing.push({ id: shortId, text: r.content });
      }
    }
    const user: ConsolidateInput = {
      existing,
      facts: undecided.map((c) => ({ index: c.index, text: c.text })),
    };
    const res = await completeJson(memoryChain(deps, input.model), {
      messages: [
        { role: 'system', content: CONSOLIDATE_SYSTEM },
        { role: 'user', content: JSON.stringify(user) },
      ],
      format: { type: 'json_schema', name: 'memory_decisions', schema: DECISIONS_JSON_SCHEMA },
      schema: Decisions,
      missingUsage: 'zero',
      signal,
    });
    const { decisions } = validValue(res, 'memory_decisions');
    addUsage(usage, res.usage);
    for (const c of undecided) {
      const decision = decisions.find((d) => d.fact === c.index);
      const target = decision?.id != null ? shortIds.get(decision.id) : undefined;
      const event = decision?.event;
      if (event === 'NOOP') {
        const covering = target ?? c.related[0];
        c.result = { id: covering.id, memory: covering.content, event: 'NOOP', reason: 'model' };
      } else if ((event === 'UPDATE' || event === 'DELETE') && target) {
        c.action = { event, target, text: decision?.text?.trim() || c.text };
      } else {
        // ADD, or an answer naming no memory we showed: keep the fact rather than touch another.
        c.action = { event: 'ADD' };
      }
    }
  }

  // 4. Write everything in one transaction, serialised per user.
  await withTransaction(deps.pool, async (tx) => {
    await lockUserMemories(tx, tenantId, userId);
    const touched = new Set<string>();
    const provenance = { source: input.source, runId: input.runId ?? null };
    const addCandidate = (c: (typeof candidates)[number]) =>
      addMemory(
        tx,
        {
          tenantId,
          userId,
          content: c.text,
          hash: c.hash,
          vector: c.vector!,
          category: c.category,
          sourceRunId: input.runId,
          sourceMessageIds: input.messageIds,
        },
        { ...provenance, reason: 'new fact' },
      );
    for (const c of candidates) {
      if (c.result || !c.action) continue;
      const { action } = c;
      if (action.event === 'ADD') {
        const row = await addCandidate(c);
        const existing = row ?? (await findCurrentByHash(tx, tenantId, userId, c.hash));
        c.result = row
          ? {
              id: row.id,
              memory: row.content,
              event: 'ADD',
              reason: c.related.length ? 'model' : 'no_related',
            }
          : {
              id: existing?.id ?? null,
              memory: existing?.content ?? c.text,
              event: 'NOOP',
              reason: 'duplicate',
            };
        continue;
      }
      const { target } = action;
      if (touched.has(target.id)) {
        // Two facts of one run changing the same memory: the first wins, the second is added.
        c.action = { event: 'ADD' };
        const row = await addCandidate(c);
        c.result = {
          id: row?.id ?? null,
          memory: c.text,
          event: row ? 'ADD' : 'NOOP',
          reason: row ? 'model' : 'duplicate',
        };
        continue;
      }
      touched.add(target.id);
      if (action.event === 'DELETE') {
        // A "retraction" that says what the memory says is the known mem0 failure: never delete on it.
        if (cosine(c.vector!, await vectorOf(deps, target.content)) >= dedupeThreshold) {
          c.result = { id: target.id, memory: target.content, event: 'NOOP', reason: 'similar' };
          continue;
        }
        const deleted = await deleteMemory(
          tx,
          { tenantId, id: target.id },
          { ...provenance, reason: c.text },
        );
        c.result = deleted
          ? { id: target.id, memory: target.content, event: 'DELETE', reason: 'model' }
          : { id: target.id, memory: target.content, event: 'NOOP', reason: 'gone' };
        continue;
      }
      const text = action.text ?? c.text;
      const hash = factHash(text);
      const vector = text === c.text ? c.vector! : (await deps.embedder.embed([text]))[0];
      const updated = await updateMemory(
        tx,
        { tenantId, id: target.id },
        { content: text, hash, vector },
        { ...provenance, reason: c.text },
      );
      c.result = updated
        ? {
            id: updated.id,
            memory: updated.content,
            event: 'UPDATE',
            previous_memory: target.content,
            reason: 'model',
          }
        : { id: target.id, memory: target.content, event: 'NOOP', reason: 'duplicate' };
    }
    await input.finalize?.(tx, outcome());
  });
  return outcome();
}

async function vectorOf(deps: MemoryDeps, text: string): Promise<number[]> {
  return (await deps.embedder.embed([text]))[0];
}

/** Cosine of two L2-normalised vectors. */
export function cosine(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function addUsage(
  total: MemoryUsage,
  usage: { prompt_tokens: number; completion_tokens: number },
): void {
  total.prompt_tokens += usage.prompt_tokens;
  total.completion_tokens += usage.completion_tokens;
  total.model_calls += 1;
}
