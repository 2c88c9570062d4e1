import type { Queryable } from '../db/pool';
import { many, maybeOne } from '../db/sql';
import { MEMORY_COLUMNS as COLUMNS, type MemoryRow } from './memory-rows';

/** Reads of single memories and lists; every one filters by tenant (and user). */

/** A current memory of this user, or undefined (deleted, archived, another user's or tenant's). */
export function getMemory(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories where tenant_id = $1 and id = $2 and valid_to is null`,
    [tenantId, id],
  );
}

/** Any row with this id in the tenant: current, archived or deleted (for history). */
export function getMemoryAnyVersion(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories where tenant_id = $1 and id = $2`,
    [tenantId, id],
  );
}

/** A user's current memories, most recently changed first. */
export function listMemories(
  db: Queryable,
  tenantId: string,
  userId: string,
  page: { limit: number; before?: { updatedAt: string; id: string } },
): Promise<MemoryRow[]> {
  return many<MemoryRow>(
    db,
    `select ${COLUMNS} from memories
     where tenant_id = $1 and user_id = $2 and valid_to is null
       and ($3::timestamptz is null or (updated_at, id) < ($3::timestamptz, $4::uuid))
     order by updated_at desc, id desc limit $5`,
    [tenantId, userId, page.before?.updatedAt ?? null, page.before?.id ?? null, page.limit],
  );
}

/** The user's current memory with this content hash (normalised text), if any. */
export function findCurrentByHash(
  db: Queryable,
  tenantId: string,
  userId: string,
  hash: string,
): Promise<MemoryRow | undefined> {
  return maybeOne<MemoryRow>(
    db,
    `select ${COLUMNS} from memories
     where tenant_id = $1 and user_id = $2 and content_hash = $3 and valid_to is null`,
    [tenantId, userId, hash],
  );
}
