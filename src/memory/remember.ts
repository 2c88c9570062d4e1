import type { PoolClient } from 'pg';
import { withTransaction } from '../db/sql';
import { cosine, decideWithModel, dedupeByHash, relate, type Candidate } from './consolidate';
import { factHash } from './content-hash';
import { askMemoryModel, emptyUsage } from './memory-calls';
import {
  addMemory,
  deleteMemory,
  findCurrentByHash,
  lockUserMemories,
  updateMemory,
  type ChangeSource,
} from './memory-store';
import { EXTRACT_JSON_SCHEMA, EXTRACT_SYSTEM, ExtractedFacts } from './memory-prompts';
import type { CandidateFact, MemoryDeps, MemoryUsage, RememberOutcome } from './memory-types';

/**
 * The memory pipeline: facts from messages (one model call), then for each
 * fact, before any model is asked, a cheap deterministic dedupe (normalised
 * text hash, then cosine ≥ threshold against the user's memories), so
 * re-adding a fact can never delete or duplicate one. Only facts with similar
 * but different memories go to the model for ADD / UPDATE / DELETE / NOOP,
 * in one call; its answer is checked against the same rules before anything
 * is written, in one transaction per run.
 */

export type {
  CandidateFact,
  MemoryDeps,
  MemoryResult,
  MemoryResultEvent,
  MemoryUsage,
  RememberOutcome,
} from './memory-types';

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
  const extracted = await askMemoryModel(
    deps,
    {
      model: input.model,
      system: EXTRACT_SYSTEM,
      user,
      name: 'memory_facts',
      jsonSchema: EXTRACT_JSON_SCHEMA,
      schema: ExtractedFacts,
      usage,
    },
    signal,
  );
  const facts = extracted.facts
    .map((f) => ({ text: f.text.trim(), category: f.category ?? null }))
    .filter((f) => f.text.length > 0 && f.text.length <= 1000);
  return { facts, usage };
}

/** What {@link rememberFacts} remembers, for whom, and on whose behalf. */
export interface RememberInput {
  tenantId: string;
  userId: string;
  facts: CandidateFact[];
  source: ChangeSource;
  runId?: string | null;
  messageIds?: string[];
  model?: string | null;
  /** Runs inside the writing transaction, after the writes (e.g. to record the run as done). */
  finalize?: (tx: PoolClient, outcome: RememberOutcome) => Promise<void>;
}

/**
 * Consolidate candidate facts into the user's memories and write the outcome.
 * @throws ProviderError from embeddings or the decision call (retryable ones may be retried: the
 * whole run is one transaction, and re-running it finds its own writes as duplicates)
 */
export async function rememberFacts(
  deps: MemoryDeps,
  input: RememberInput,
  signal?: AbortSignal,
): Promise<RememberOutcome> {
  const { tenantId, userId } = input;
  const usage = emptyUsage();
  const outcome = (): RememberOutcome => ({
    results: candidates.map((c) => c.result).filter((r) => r !== undefined),
    usage,
  });

  const candidates = await dedupeByHash(deps, tenantId, userId, input.facts);
  const open = candidates.filter((c) => !c.result);
  await relate(deps, tenantId, userId, open);
  await decideWithModel(deps, open, input.model, usage, signal);

  // 4. Write everything in one transaction, serialised per user.
  await withTransaction(deps.pool, async (tx) => {
    await lockUserMemories(tx, tenantId, userId);
    await writeDecisions(deps, tx, input, candidates);
    await input.finalize?.(tx, outcome());
  });
  return outcome();
}

/** Step 4. Carry out the decided actions inside the run's transaction, setting each `result`. */
async function writeDecisions(
  deps: MemoryDeps,
  tx: PoolClient,
  input: RememberInput,
  candidates: Candidate[],
): Promise<void> {
  const { tenantId, userId } = input;
  const { dedupeThreshold } = deps.config.memory;
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
}

async function vectorOf(deps: MemoryDeps, text: string): Promise<number[]> {
  return (await deps.embedder.embed([text]))[0];
}
