import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool';
import { many } from '../db/sql';
import type { MemoryChangeRow, MemoryEvent, MemoryRow, Provenance } from './memory-rows';

/** The change log of memories (`memory_changes`): written with every change, read as history. */

/** Every change of a memory, oldest first. */
export function memoryHistory(
  db: Queryable,
  tenantId: string,
  memoryId: string,
): Promise<MemoryChangeRow[]> {
  return many<MemoryChangeRow>(
    db,
    `select id, seq, memory_id, event, previous_content, content, archived_id, source, run_id, reason, created_at
     from memory_changes where tenant_id = $1 and memory_id = $2 order by seq`,
    [tenantId, memoryId],
  );
}

/** Log one change of `row` (in the transaction that made it). */
export async function logChange(
  tx: Queryable,
  row: MemoryRow,
  change: {
    event: MemoryEvent;
    previous: string | null;
    content: string | null;
    archivedId?: string;
  },
  provenance: Provenance,
): Promise<void> {
  await tx.query(
    `insert into memory_changes (id, tenant_id, user_id, memory_id, event, previous_content, content, archived_id,
                                 source, run_id, reason)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      randomUUID(),
      row.tenant_id,
      row.user_id,
      row.id,
      change.event,
      change.previous,
      change.content,
      change.archivedId ?? null,
      provenance.source,
      provenance.runId ?? null,
      provenance.reason ?? null,
    ],
  );
}
