import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

export interface SessionRow {
  id: string;
  tenant_id: string;
  user_id: string | null;
  title: string | null;
  agent: string;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface NewSession {
  id: string;
  tenantId: string;
  userId: string | null;
  title?: string | null;
  agent?: string;
  metadata?: Record<string, unknown>;
}

export function insertSession(db: Queryable, s: NewSession): Promise<SessionRow> {
  return one<SessionRow>(
    db,
    `insert into sessions (id, tenant_id, user_id, title, agent, metadata)
     values ($1, $2, $3, $4, $5, $6) returning *`,
    [
      s.id,
      s.tenantId,
      s.userId,
      s.title ?? null,
      s.agent ?? 'default',
      JSON.stringify(s.metadata ?? {}),
    ],
  );
}

/**
 * The session with this id in this tenant, created if unknown (X-Session-Id).
 * @returns undefined when the id belongs to another tenant (a 404 for the caller).
 */
/**
 * The session with this id in the tenant, created when unknown.
 * @returns undefined when the id is another tenant's; `created` says whether this call made it.
 */
export async function ensureSession(
  db: Queryable,
  s: NewSession,
): Promise<{ session: SessionRow; created: boolean } | undefined> {
  const inserted = await maybeOne<SessionRow>(
    db,
    `insert into sessions (id, tenant_id, user_id, agent, metadata)
     values ($1, $2, $3, $4, '{}') on conflict (id) do nothing returning *`,
    [s.id, s.tenantId, s.userId, s.agent ?? 'default'],
  );
  if (inserted) return { session: inserted, created: true };
  const existing = await getSession(db, s.tenantId, s.id);
  return existing && { session: existing, created: false };
}

export function getSession(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<SessionRow | undefined> {
  return maybeOne<SessionRow>(db, 'select * from sessions where tenant_id = $1 and id = $2', [
    tenantId,
    id,
  ]);
}

export function listSessions(
  db: Queryable,
  tenantId: string,
  filter: { userId?: string; limit: number; before?: { createdAt: string; id: string } },
): Promise<SessionRow[]> {
  return many<SessionRow>(
    db,
    `select * from sessions
     where tenant_id = $1 and ($2::text is null or user_id = $2)
       and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::uuid))
     order by created_at desc, id desc limit $5`,
    [
      tenantId,
      filter.userId ?? null,
      filter.before?.createdAt ?? null,
      filter.before?.id ?? null,
      filter.limit,
    ],
  );
}

export function updateSession(
  db: Queryable,
  tenantId: string,
  id: string,
  patch: { title?: string | null; metadata?: Record<string, unknown>; agent?: string },
): Promise<SessionRow | undefined> {
  return maybeOne<SessionRow>(
    db,
    `update sessions set
       title = case when $3::boolean then $4 else title end,
       metadata = coalesce($5::jsonb, metadata),
       agent = coalesce($6, agent),
       updated_at = now()
     where tenant_id = $1 and id = $2 returning *`,
    [
      tenantId,
      id,
      patch.title !== undefined,
      patch.title ?? null,
      patch.metadata ? JSON.stringify(patch.metadata) : null,
      patch.agent ?? null,
    ],
  );
}

/** Deletes the session and its messages and runs; memories stay. */
export async function deleteSession(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const res = await db.query('delete from sessions where tenant_id = $1 and id = $2', [
    tenantId,
    id,
  ]);
  return res.rowCount === 1;
}

/**
 * Mark the session as active and give it `title` if it has none.
 * @returns whether `title` became the session's title (it had none before).
 */
export async function touchSession(db: Queryable, id: string, title?: string): Promise<boolean> {
  // The self-join reads the title as it was before this update.
  const row = await maybeOne<{ titled: boolean }>(
    db,
    `update sessions s set updated_at = now(), title = coalesce(s.title, $2::text)
       from sessions before
      where s.id = $1::uuid and before.id = s.id
     returning before.title is null and $2::text is not null as titled`,
    [id, title ?? null],
  );
  return row?.titled ?? false;
}

/** Sessions whose metadata holds `metadata` (jsonb containment), newest first, by offset. */
export function searchSessions(
  db: Queryable,
  tenantId: string,
  filter: { metadata?: Record<string, unknown>; ids?: string[]; limit: number; offset: number },
): Promise<SessionRow[]> {
  return many<SessionRow>(
    db,
    `select * from sessions
     where tenant_id = $1 and ($2::jsonb is null or metadata @> $2::jsonb)
       and ($3::uuid[] is null or id = any($3::uuid[]))
     order by created_at desc, id desc limit $4 offset $5`,
    [
      tenantId,
      filter.metadata ? JSON.stringify(filter.metadata) : null,
      filter.ids ?? null,
      filter.limit,
      filter.offset,
    ],
  );
}

/** Which of these sessions have a turn queued or running. */
export async function busySessions(
  db: Queryable,
  tenantId: string,
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await many<{ session_id: string }>(
    db,
    `select distinct session_id from runs
     where tenant_id = $1 and session_id = any($2::uuid[]) and kind = 'turn'
       and status in ('queued', 'running')`,
    [tenantId, ids],
  );
  return new Set(rows.map((r) => r.session_id));
}
