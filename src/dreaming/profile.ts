import type { Queryable } from '../db/pool';
import { maybeOne } from '../db/sql';
import { PROFILE_LIST_FIELDS, type ProfileAnswer } from './schemas';

/** A user's profile as stored (`user_profiles`). */
export interface UserProfileRow {
  tenant_id: string;
  user_id: string;
  profile: Partial<ProfileAnswer>;
  /** Field → ids of the moments, memories and files behind it. */
  evidence: Record<string, string[]>;
  version: number;
  run_id: string | null;
  updated_at: Date;
}

export function getUserProfile(
  db: Queryable,
  tenantId: string,
  userId: string,
): Promise<UserProfileRow | undefined> {
  return maybeOne<UserProfileRow>(
    db,
    'select * from user_profiles where tenant_id = $1 and user_id = $2',
    [tenantId, userId],
  );
}

/**
 * Keep only evidence ids the model was shown; an entry left without evidence
 * stays (the model may summarise), its unknown ids are reported.
 */
export function checkEvidence(
  answer: ProfileAnswer,
  known: Set<string>,
): { profile: ProfileAnswer; unknown: string[] } {
  const unknown: string[] = [];
  const profile = { ...answer };
  for (const field of PROFILE_LIST_FIELDS) {
    (profile[field] as { evidence: string[] }[]) = (answer[field] as { evidence: string[] }[]).map(
      (entry) => {
        const evidence = entry.evidence.filter((id) => known.has(id));
        unknown.push(...entry.evidence.filter((id) => !known.has(id)));
        return { ...entry, evidence };
      },
    );
  }
  return { profile, unknown };
}

/** Field → the evidence ids of its entries (deduplicated). */
export function evidenceOf(profile: ProfileAnswer): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const field of PROFILE_LIST_FIELDS) {
    out[field] = [
      ...new Set((profile[field] as { evidence: string[] }[]).flatMap((e) => e.evidence)),
    ];
  }
  return out;
}

/** The fields whose value changed, with before and after. */
export function diffProfile(
  before: Partial<ProfileAnswer> | undefined,
  after: ProfileAnswer,
): { field: string; before: unknown; after: unknown }[] {
  const fields = ['summary', ...PROFILE_LIST_FIELDS] as const;
  return fields
    .filter((f) => canonicalJson(before?.[f] ?? null) !== canonicalJson(after[f]))
    .map((f) => ({ field: f, before: before?.[f] ?? null, after: after[f] }));
}

/** Write the profile; the version moves only when something changed. */
export async function saveProfile(
  tx: Queryable,
  scope: { tenantId: string; userId: string; runId: string },
  profile: Partial<ProfileAnswer>,
  evidence: Record<string, string[]>,
): Promise<void> {
  await tx.query(
    `insert into user_profiles (tenant_id, user_id, profile, evidence, run_id) values ($1, $2, $3, $4, $5)
     on conflict (tenant_id, user_id) do update
       set profile = excluded.profile, evidence = excluded.evidence, run_id = excluded.run_id,
           version = user_profiles.version + 1, updated_at = now()
       where user_profiles.profile is distinct from excluded.profile`,
    [scope.tenantId, scope.userId, JSON.stringify(profile), JSON.stringify(evidence), scope.runId],
  );
}

/**
 * The on-demand hint a chat turn's system prompt carries (as in remdb): the
 * model looks the profile up when it needs it.
 */
export function profileHint(userId: string): string {
  return `User ID: ${userId}. To load the user's profile: lookup users/${userId}`;
}

/** The profile as compact text, for auto-injected context. */
export function profileContext(row: UserProfileRow): string {
  const p = row.profile;
  const lines = [`Profile of user ${row.user_id} (v${row.version}):`];
  if (p.summary) lines.push(p.summary);
  const list = (label: string, items: string[] | undefined) => {
    if (items && items.length > 0) lines.push(`${label}: ${items.join('; ')}`);
  };
  list(
    'Current projects',
    p.current_projects?.map((x) => x.name),
  );
  list(
    'Expertise',
    p.expertise?.map((x) => (x.level ? `${x.area} (${x.level})` : x.area)),
  );
  list(
    'Interests',
    p.interests?.map((x) => x.topic),
  );
  list(
    'Preferences',
    p.preferences?.map((x) => x.preference),
  );
  list(
    'Recent activity',
    p.recent_activity?.map((x) => x.summary),
  );
  return lines.join('\n');
}

/** JSON with object keys sorted: jsonb does not keep key order, so compare in this form. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}
