/**
 * Steps 1 to 3 of remembering: decide, for each candidate fact, whether it is
 * a duplicate, a new memory, or (asked of the model, in one call) an update,
 * a deletion or nothing for a related memory. Nothing is written here.
 */
import { factHash, normaliseFact } from './content-hash';
import { askMemoryModel } from './memory-calls';
import {
  CONSOLIDATE_SYSTEM,
  Decisions,
  DECISIONS_JSON_SCHEMA,
  type ConsolidateInput,
} from './memory-prompts';
import { findCurrentByHash, searchMemories, type ScoredMemory } from './memory-store';
import type { CandidateFact, MemoryDeps, MemoryResult, MemoryUsage } from './memory-types';

/** Facts per run: more is a model rambling, not a conversation's worth. */
const MAX_FACTS = 20;
/** Similar memories shown to the model per fact. */
const RELATED_PER_FACT = 5;

/** A fact on its way through the pipeline: settled once `result` is set. */
export interface Candidate {
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

/** Step 1. Normalised-text hash: duplicates within the batch and of existing memories. */
export async function dedupeByHash(
  deps: MemoryDeps,
  tenantId: string,
  userId: string,
  facts: CandidateFact[],
): Promise<Candidate[]> {
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  for (const fact of facts.slice(0, MAX_FACTS)) {
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
  return candidates;
}

/**
 * Step 2. Cosine against the user's memories (and earlier facts of this
 * batch): near-duplicates are settled, facts with no related memory are
 * added, the rest keep their related memories for the model.
 */
export async function relate(
  deps: MemoryDeps,
  tenantId: string,
  userId: string,
  open: Candidate[],
): Promise<void> {
  const { dedupeThreshold, relatedMinScore } = deps.config.memory;
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
}

/** Step 3. One model call for the facts that touch existing memories. */
export async function decideWithModel(
  deps: MemoryDeps,
  open: Candidate[],
  model: string | null | undefined,
  usage: MemoryUsage,
  signal: AbortSignal | undefined,
): Promise<void> {
  const undecided = open.filter((c) => !c.result && !c.action);
  if (undecided.length === 0) return;
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
  const { decisions } = await askMemoryModel(
    deps,
    {
      model,
      system: CONSOLIDATE_SYSTEM,
      user,
      name: 'memory_decisions',
      jsonSchema: DECISIONS_JSON_SCHEMA,
      schema: Decisions,
      usage,
    },
    signal,
  );
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

/** Cosine of two L2-normalised vectors. */
export function cosine(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
