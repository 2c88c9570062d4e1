import type { Queryable } from '../db/pool';
import { many } from '../db/sql';

/**
 * Affinity: which moments (and files) of a user belong together. A score
 * mixes embedding similarity and shared entities, so two moments about the
 * same project link even when worded differently, and vice versa.
 */

export interface AffinityLink {
  sourceId: string;
  targetType: 'moment' | 'file';
  targetId: string;
  score: number;
  similarity: number;
  sharedEntities: string[];
}

export interface AffinityOptions {
  /** Weight of cosine similarity; shared entities (Jaccard) get the rest. @default 0.7 */
  similarityWeight?: number;
  /** Links scoring below are dropped. @default 0.35 */
  minScore?: number;
  /** Most links kept per moment and target type. @default 5 */
  perMoment?: number;
}

interface Candidate {
  id: string;
  entities: string[];
  similarity: number;
}

/** Links from each of `momentIds` to related moments and files of the same user. */
export async function computeAffinity(
  db: Queryable,
  scope: { tenantId: string; userId: string },
  momentIds: string[],
  options: AffinityOptions = {},
): Promise<AffinityLink[]> {
  const weight = options.similarityWeight ?? 0.7;
  const minScore = options.minScore ?? 0.35;
  const perMoment = options.perMoment ?? 5;
  const sources = await many<{ id: string; entities: string[] }>(
    db,
    `select id, entities from moments where tenant_id = $1 and user_id = $2 and id = any($3::uuid[])
       and embedding is not null`,
    [scope.tenantId, scope.userId, momentIds],
  );
  const links = new Map<string, AffinityLink>();
  for (const source of sources) {
    const moments = await many<Candidate>(
      db,
      `with src as (select embedding, entities from moments where id = $3),
       near as (
         select m.id, m.entities, 1 - (m.embedding <=> src.embedding) as similarity
         from moments m, src
         where m.tenant_id = $1 and m.user_id = $2 and m.id <> $3 and m.embedding is not null
         order by m.embedding <=> src.embedding limit 10),
       shared as (
         select m.id, m.entities, 1 - (m.embedding <=> src.embedding) as similarity
         from moments m, src
         where m.tenant_id = $1 and m.user_id = $2 and m.id <> $3 and m.embedding is not null
           and m.entities && src.entities order by m.id limit 20)
       select * from near union select * from shared`,
      [scope.tenantId, scope.userId, source.id],
    );
    const files = await many<Candidate>(
      db,
      `with src as (select embedding from moments where id = $3),
       near as (
         select c.file_id, 1 - (c.embedding <=> src.embedding) as similarity
         from chunks c join files f on f.id = c.file_id, src
         where c.tenant_id = $1 and f.user_id = $2 and f.status = 'ready' and c.embedding is not null
         order by c.embedding <=> src.embedding limit 20)
       select file_id as id, '{}'::text[] as entities, max(similarity) as similarity from near group by file_id`,
      [scope.tenantId, scope.userId, source.id],
    );
    const score = (c: Candidate) => {
      const shared = sharedEntities(source.entities, c.entities);
      const union = new Set([...source.entities, ...c.entities].map((e) => e.toLowerCase())).size;
      const jaccard = union === 0 ? 0 : shared.length / union;
      return { shared, value: weight * c.similarity + (1 - weight) * jaccard };
    };
    const keep = (type: 'moment' | 'file', candidates: Candidate[]) =>
      candidates
        .map((c) => ({ c, s: score(c) }))
        .filter(({ s }) => s.value >= minScore)
        .sort((a, b) => b.s.value - a.s.value || a.c.id.localeCompare(b.c.id))
        .slice(0, perMoment)
        .forEach(({ c, s }) => {
          // A moment pair is stored once, from the smaller id.
          const [from, to] =
            type === 'moment' && c.id < source.id ? [c.id, source.id] : [source.id, c.id];
          links.set(`${from}:${type}:${to}`, {
            sourceId: from,
            targetType: type,
            targetId: to,
            score: round(s.value),
            similarity: round(c.similarity),
            sharedEntities: s.shared,
          });
        });
    keep('moment', moments);
    keep('file', files);
  }
  return [...links.values()];
}

function sharedEntities(a: string[], b: string[]): string[] {
  const lower = new Set(b.map((e) => e.toLowerCase()));
  return [...new Set(a.filter((e) => lower.has(e.toLowerCase())))];
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/**
 * Store links; existing pairs get the new score.
 * @returns the links that did not exist before (for the change log).
 */
export async function upsertAffinity(
  tx: Queryable,
  scope: { tenantId: string; userId: string; runId: string },
  links: AffinityLink[],
): Promise<AffinityLink[]> {
  if (links.length === 0) return [];
  const rows = await many<{
    source_id: string;
    target_type: string;
    target_id: string;
    inserted: boolean;
  }>(
    tx,
    `insert into affinity_links (tenant_id, user_id, source_type, source_id, target_type, target_id, score,
                                 similarity, shared_entities, run_id)
     select $1, $2, 'moment', l.source_id, l.target_type, l.target_id, l.score, l.similarity,
            coalesce((select array_agg(x) from jsonb_array_elements_text(l.shared) x), '{}'), $3
     from unnest($4::uuid[], $5::text[], $6::uuid[], $7::real[], $8::real[], $9::jsonb[])
          as l(source_id, target_type, target_id, score, similarity, shared)
     on conflict (tenant_id, source_type, source_id, target_type, target_id) do update
       set score = excluded.score, similarity = excluded.similarity, shared_entities = excluded.shared_entities,
           updated_at = now()
     returning source_id, target_type, target_id, (xmax = 0) as inserted`,
    [
      scope.tenantId,
      scope.userId,
      scope.runId,
      links.map((l) => l.sourceId),
      links.map((l) => l.targetType),
      links.map((l) => l.targetId),
      links.map((l) => l.score),
      links.map((l) => l.similarity),
      links.map((l) => JSON.stringify(l.sharedEntities)),
    ],
  );
  const fresh = new Set(
    rows.filter((r) => r.inserted).map((r) => `${r.source_id}:${r.target_type}:${r.target_id}`),
  );
  return links.filter((l) => fresh.has(`${l.sourceId}:${l.targetType}:${l.targetId}`));
}

/** The key of a link in the change log and in revert. */
export function linkKey(l: { sourceId: string; targetType: string; targetId: string }): string {
  return `${l.sourceId}:${l.targetType}:${l.targetId}`;
}
