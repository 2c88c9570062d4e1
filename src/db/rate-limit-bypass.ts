import { randomUUID } from 'node:crypto';
import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

export interface BypassRow {
  id: string;
  type: 'key' | 'ip' | 'cidr';
  value: string;
  created_at: Date;
}

/** Add an entry (idempotent on type + value); every API process reloads its list on commit. */
export function insertBypass(
  db: Queryable,
  entry: { type: BypassRow['type']; value: string },
): Promise<BypassRow> {
  return one<BypassRow>(
    db,
    `insert into rate_limit_bypass (id, type, value) values ($1, $2, $3)
     on conflict (type, value) do update set value = excluded.value
     returning id, type, value, created_at`,
    [randomUUID(), entry.type, entry.value],
  );
}

export function listBypass(db: Queryable): Promise<BypassRow[]> {
  return many<BypassRow>(
    db,
    'select id, type, value, created_at from rate_limit_bypass order by created_at, id',
  );
}

/** @returns the deleted entry, or undefined when there was none. */
export function deleteBypass(db: Queryable, id: string): Promise<BypassRow | undefined> {
  return maybeOne<BypassRow>(
    db,
    'delete from rate_limit_bypass where id = $1 returning id, type, value, created_at',
    [id],
  );
}
