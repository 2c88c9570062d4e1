import { randomUUID } from 'node:crypto';
import { SECURITY_CHANNEL } from './api-keys';
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
    `with added as (
       insert into rate_limit_bypass (id, type, value) values ($1, $2, $3)
       on conflict (type, value) do update set value = excluded.value
       returning id, type, value, created_at
     )
     select added.*, pg_notify($4, 'bypass') from added`,
    [randomUUID(), entry.type, entry.value, SECURITY_CHANNEL],
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
    `with gone as (delete from rate_limit_bypass where id = $1 returning id, type, value, created_at)
     select gone.*, pg_notify($2, 'bypass') from gone`,
    [id, SECURITY_CHANNEL],
  );
}
