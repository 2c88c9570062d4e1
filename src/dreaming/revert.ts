import type pg from 'pg';
import type { Pool } from '../db/pool';
import { many, maybeOne, withTransaction } from '../db/sql';
import type { Embedder } from '../embeddings/embedder';
import { toVectorLiteral } from '../embeddings/embedder';
import { factHash } from '../memory/content-hash';
import { addMemory, deleteMemory, lockUserMemories, updateMemory } from '../memory/memory-store';
import type { ChangeRow } from './dream-store';
import { momentText, type MomentSnapshot } from './moments';
import { canonicalJson } from './profile';

export interface RevertOutcome {
  reverted: number;
  /** Changes left alone, and why (e.g. changed again since). */
  skipped: { change_id: string; reason: string }[];
}

/**
 * Undo what a dreaming run applied, newest change first, in one transaction:
 * its moments are removed (or restored), its profile fields set back where
 * nothing changed them since, its affinity links removed, and its memories
 * undone through the memory history — an added fact is invalidated
 * (`valid_to`), never hard-deleted; an updated one is updated back; an
 * invalidated one is added again. A second revert finds nothing to do.
 */
export async function revertDreamRun(
  deps: { pool: Pool; embedder: Embedder },
  tenantId: string,
  runId: string,
): Promise<RevertOutcome> {
  return withTransaction(deps.pool, async (tx) => {
    const changes = await many<ChangeRow>(
      tx,
      `select * from dreaming_changes where tenant_id = $1 and run_id = $2 and applied and reverted_at is null
       order by seq desc for update`,
      [tenantId, runId],
    );
    const outcome: RevertOutcome = { reverted: 0, skipped: [] };
    if (changes.length === 0) return outcome;
    const userId = changes[0].user_id;
    await lockUserMemories(tx, tenantId, userId);
    const revert: Revert = { tx, embedder: deps.embedder, tenantId, userId, runId };
    for (const change of changes) {
      const skipped = await revertChange(revert, change);
      if (skipped) {
        outcome.skipped.push({ change_id: change.id, reason: skipped });
        continue;
      }
      await tx.query('update dreaming_changes set reverted_at = now() where id = $1', [change.id]);
      outcome.reverted++;
    }
    return outcome;
  });
}

/** What undoing one change works in: the revert's transaction, for one user's run. */
interface Revert {
  tx: pg.PoolClient;
  embedder: Embedder;
  tenantId: string;
  userId: string;
  runId: string;
}

/** Undo one change. @returns why it was left alone, or undefined when it was undone */
async function revertChange(r: Revert, change: ChangeRow): Promise<string | undefined> {
  switch (`${change.kind}:${change.action}`) {
    case 'moment:add':
      return removeMoment(r, change);
    case 'moment:update':
      return restoreMoment(r, change);
    case 'profile:set':
      return restoreProfileField(r, change);
    case 'affinity:add':
      return removeAffinityLink(r, change);
    case 'memory:add':
    case 'memory:update':
    case 'memory:invalidate':
      return revertMemory(r, change);
    default:
      return `no revert for ${change.kind} ${change.action}`;
  }
}

async function removeMoment(
  { tx, tenantId, runId }: Revert,
  change: ChangeRow,
): Promise<string | undefined> {
  await tx.query(
    `delete from affinity_links where tenant_id = $1 and (source_id = $2 or (target_type = 'moment' and target_id = $2))`,
    [tenantId, change.target_id],
  );
  const res = await tx.query(
    'delete from moments where tenant_id = $1 and id = $2 and run_id = $3',
    [tenantId, change.target_id, runId],
  );
  return res.rowCount === 0 ? 'the moment was changed by a later run or removed' : undefined;
}

async function restoreMoment(
  { tx, embedder, tenantId, runId }: Revert,
  change: ChangeRow,
): Promise<string | undefined> {
  const before = change.before as MomentSnapshot;
  const [vector] = await embedder.embed([momentText(before)]);
  const res = await tx.query(
    `update moments set title = $4, summary = $5, topics = $6, entities = $7, embedding = $8::vector, updated_at = now()
     where tenant_id = $1 and id = $2 and run_id = $3`,
    [
      tenantId,
      change.target_id,
      runId,
      before.title,
      before.summary,
      before.topics,
      before.entities,
      toVectorLiteral(vector),
    ],
  );
  return res.rowCount === 0 ? 'the moment was changed by a later run or removed' : undefined;
}

/** Set a profile field back, unless something changed it since this run set it. */
async function restoreProfileField(
  { tx, tenantId, userId }: Revert,
  change: ChangeRow,
): Promise<string | undefined> {
  const row = await maybeOne<{ value: unknown }>(
    tx,
    `select profile -> $3 as value from user_profiles where tenant_id = $1 and user_id = $2 for update`,
    [tenantId, userId, change.field],
  );
  if (!row || canonicalJson(row.value ?? null) !== canonicalJson(change.after ?? null))
    return 'the profile field was changed since';
  await tx.query(
    `update user_profiles
     set profile = case when $4::jsonb is null then profile - $3 else jsonb_set(profile, array[$3], $4::jsonb) end,
         version = version + 1, updated_at = now()
     where tenant_id = $1 and user_id = $2`,
    [tenantId, userId, change.field, change.before === null ? null : JSON.stringify(change.before)],
  );
  return undefined;
}

async function removeAffinityLink({ tx, tenantId }: Revert, change: ChangeRow): Promise<undefined> {
  const after = change.after as {
    source_id: string;
    target_type: string;
    target_id: string;
  };
  await tx.query(
    `delete from affinity_links where tenant_id = $1 and source_type = 'moment' and source_id = $2
       and target_type = $3 and target_id = $4`,
    [tenantId, after.source_id, after.target_type, after.target_id],
  );
  return undefined;
}

/**
 * Undo a memory change through the memory history: an added fact is
 * invalidated, an updated one updated back, an invalidated one added again.
 */
async function revertMemory(r: Revert, change: ChangeRow): Promise<string | undefined> {
  const { tx, embedder, tenantId, userId, runId } = r;
  const provenance = {
    source: 'dreaming' as const,
    runId,
    reason: `revert of dreaming run ${runId}`,
  };
  if (change.action === 'add') {
    if (!(await deleteMemory(tx, { tenantId, id: change.target_id }, provenance)))
      return 'the memory is no longer current';
    return undefined;
  }
  const before = (change.before as { content: string }).content;
  const [vector] = await embedder.embed([before]);
  if (change.action === 'update') {
    const updated = await updateMemory(
      tx,
      { tenantId, id: change.target_id },
      { content: before, hash: factHash(before), vector },
      provenance,
    );
    return updated ? undefined : 'the memory is no longer current';
  }
  const added = await addMemory(
    tx,
    {
      tenantId,
      userId,
      content: before,
      hash: factHash(before),
      vector,
      sourceRunId: runId,
      sourceMessageIds: change.source_message_ids,
    },
    provenance,
  );
  return added ? undefined : 'a current memory already says this';
}
