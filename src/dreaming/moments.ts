import { createHash } from 'node:crypto';
import type { Queryable } from '../db/pool';
import { many, maybeOne } from '../db/sql';
import { toVectorLiteral } from '../embeddings/embedder';
import type { Episode } from './episodes';
import type { MomentsAnswer } from './schemas';

/** Characters of one message a moments prompt shows (head and tail of longer ones). */
const MESSAGE_CHARS = 600;

export interface PageMessage {
  id: string;
  session_id: string;
  role: string;
  content: string;
  created_at: Date;
}

/** The messages of a page, by id, in the tenant. */
export function loadMessages(
  db: Queryable,
  tenantId: string,
  ids: string[],
): Promise<PageMessage[]> {
  return many<PageMessage>(
    db,
    `select id, session_id, role, content, created_at from messages
     where tenant_id = $1 and id = any($2::uuid[])`,
    [tenantId, ids],
  );
}

/** The user message of a moments step: each episode labelled `e1`, `e2`, … with its messages. */
export function momentsPromptInput(
  userId: string,
  episodes: Episode[],
  messages: Map<string, PageMessage>,
) {
  return {
    user_id: userId,
    episodes: episodes.map((e, i) => {
      const list = e.message_ids
        .map((id) => messages.get(id))
        .filter((m): m is PageMessage => m !== undefined);
      return {
        episode: `e${i + 1}`,
        started_at: list[0]?.created_at.toISOString(),
        ended_at: list[list.length - 1]?.created_at.toISOString(),
        messages: list.map((m) => ({ id: m.id, role: m.role, content: clip(m.content) })),
      };
    }),
  };
}

function clip(text: string): string {
  if (text.length <= MESSAGE_CHARS) return text;
  const half = MESSAGE_CHARS / 2;
  return `${text.slice(0, half)} […] ${text.slice(-half)}`;
}

/** A moment ready to store: time range and sources from the episode, the rest from the model. */
export interface MomentDraft {
  id: string;
  key: string;
  title: string;
  summary: string;
  topics: string[];
  entities: string[];
  starts_at: string;
  ends_at: string;
  source_message_ids: string[];
}

/**
 * Moments of a page from the model's answer. Episodes the model left out get
 * none (reported in `missing`).
 */
export function draftMoments(
  scope: { tenantId: string; userId: string },
  episodes: Episode[],
  messages: Map<string, PageMessage>,
  answer: MomentsAnswer,
): { drafts: MomentDraft[]; missing: string[] } {
  const byLabel = new Map(answer.moments.map((m) => [m.episode, m]));
  const drafts: MomentDraft[] = [];
  const missing: string[] = [];
  episodes.forEach((episode, i) => {
    const label = `e${i + 1}`;
    const out = byLabel.get(label);
    if (!out) {
      missing.push(label);
      return;
    }
    const times = episode.message_ids
      .map((id) => messages.get(id)?.created_at.getTime())
      .filter((t): t is number => t !== undefined);
    const key = momentKey(episode);
    drafts.push({
      id: stableUuid(`${scope.tenantId}\n${scope.userId}\n${key}`),
      key,
      title: out.title,
      summary: out.summary,
      topics: unique(out.topics.map((t) => t.toLowerCase())),
      entities: unique(out.entities),
      starts_at: new Date(Math.min(...times)).toISOString(),
      ends_at: new Date(Math.max(...times)).toISOString(),
      source_message_ids: episode.message_ids,
    });
  });
  return { drafts, missing };
}

/** An episode's identity: its first and last message and its size. */
export function momentKey(episode: Episode): string {
  const ids = episode.message_ids;
  return `${ids[0]}:${ids[ids.length - 1]}:${ids.length}`;
}

/** A UUID (v4 layout) derived from `text`: re-running a window gives the same ids. */
export function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function unique(values: string[]): string[] {
  return [...new Set(values.map((v) => v.trim()).filter(Boolean))];
}

/** What a moment looked like (for provenance and revert). */
export interface MomentSnapshot {
  title: string;
  summary: string;
  topics: string[];
  entities: string[];
}

/**
 * Insert or rewrite a moment by its key.
 * @returns `add` (new), `update` (content changed; `before` holds the old) or `noop`.
 */
export async function upsertMoment(
  tx: Queryable,
  scope: { tenantId: string; userId: string; runId: string; model: string; promptVersion: string },
  draft: MomentDraft,
  vector: number[],
): Promise<{ action: 'add' | 'update' | 'noop'; before?: MomentSnapshot }> {
  const existing = await maybeOne<MomentSnapshot & { id: string }>(
    tx,
    `select id, title, summary, topics, entities from moments
     where tenant_id = $1 and user_id = $2 and moment_key = $3 for update`,
    [scope.tenantId, scope.userId, draft.key],
  );
  if (existing && sameMoment(existing, draft)) return { action: 'noop' };
  await tx.query(
    `insert into moments (id, tenant_id, user_id, title, summary, topics, entities, starts_at, ends_at,
                          source_message_ids, embedding, run_id, moment_key, model, prompt_version)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid[], $11::vector, $12, $13, $14, $15)
     on conflict (tenant_id, user_id, moment_key) where moment_key is not null do update
       set title = excluded.title, summary = excluded.summary, topics = excluded.topics,
           entities = excluded.entities, embedding = excluded.embedding, run_id = excluded.run_id,
           model = excluded.model, prompt_version = excluded.prompt_version, updated_at = now()`,
    [
      draft.id,
      scope.tenantId,
      scope.userId,
      draft.title,
      draft.summary,
      draft.topics,
      draft.entities,
      draft.starts_at,
      draft.ends_at,
      draft.source_message_ids,
      toVectorLiteral(vector),
      scope.runId,
      draft.key,
      scope.model,
      scope.promptVersion,
    ],
  );
  return existing ? { action: 'update', before: snapshot(existing) } : { action: 'add' };
}

export function snapshot(m: MomentSnapshot): MomentSnapshot {
  return { title: m.title, summary: m.summary, topics: m.topics, entities: m.entities };
}

function sameMoment(a: MomentSnapshot, b: MomentSnapshot): boolean {
  return JSON.stringify(snapshot(a)) === JSON.stringify(snapshot(b));
}

/** The text a moment is embedded (and searched) by. */
export function momentText(m: {
  title: string;
  summary: string;
  topics: string[];
  entities: string[];
}): string {
  return `${m.title}\n${m.summary}\n${[...m.topics, ...m.entities].join(', ')}`;
}
