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
    const provenance = {
      source: 'dreaming' as const,
      runId,
      reason: `revert of dreaming run ${runId}`,
    };
    for (const change of changes) {
      let skipped: string | undefined;
      switch (`${change.kind}:${change.action}`) {
        case 'moment:add': {
          await tx.query(
            `delete from affinity_links where tenant_id = $1 and (source_id = $2 or (target_type = 'moment' and target_id = $2))`,
            [tenantId, change.target_id],
          );
          const res = await tx.query(
            'delete from moments where tenant_id = $1 and id = $2 and run_id = $3',
            [tenantId, change.target_id, runId],
          );
          if (res.rowCount === 0) skipped = 'the moment was changed by a later run or removed';
          break;
        }
        case 'moment:update': {
          const before = change.before as MomentSnapshot;
          const [vector] = await deps.embedder.embed([momentText(before)]);
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
          if (res.rowCount === 0) skipped = 'the moment was changed by a later run or removed';
          break;
        }
        case 'profile:set': {
          const row = await maybeOne<{ value: unknown }>(
            tx,
            `select profile -> $3 as value from user_profiles where tenant_id = $1 and user_id = $2 for update`,
            [tenantId, userId, change.field],
          );
          if (!row || canonicalJson(row.value ?? null) !== canonicalJson(change.after ?? null)) {
            skipped = 'the profile field was changed since';
            break;
          }
          await tx.query(
            `update user_profiles
             set profile = case when $4::jsonb is null then profile - $3 else jsonb_set(profile, array[$3], $4::jsonb) end,
                 version = version + 1, updated_at = now()
             where tenant_id = $1 and user_id = $2`,
            [
              tenantId,
              userId,
              change.field,
              change.before === null ? null : JSON.stringify(change.before),
            ],
          );
          break;
        }
        case 'affinity:add': {
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
          break;
        }
        case 'memory:add': {
          if (!(await deleteMemory(tx, { tenantId, id: change.target_id }, provenance)))
            skipped = 'the memory is no longer current';
          break;
        }
        case 'memory:update': {
          const before = (change.before as { content: string }).content;
          const [vector] = await deps.embedder.embed([before]);
          const updated = await updateMemory(
            tx,
            { tenantId, id: change.target_id },
            { content: before, hash: factHash(before), vector },
            provenance,
          );
          if (!updated) skipped = 'the memory is no longer current';
          break;
        }
        case 'memory:invalidate': {
          const before = (change.before as { content: string }).content;
          const [vector] = await deps.embedder.embed([before]);
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
          if (!added) skipped = 'a current memory already says this';
          break;
        }
        default:
          skipped = `no revert for ${change.kind} ${change.action}`;
      }
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
