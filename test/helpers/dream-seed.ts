import { randomUUID } from 'node:crypto';
import type { Pool } from '../../src/db/pool';
import { DEFAULT_TENANT_ID } from '../../src/config';

const TOPICS = [
  {
    project: 'Reverie',
    words: 'temporal workflows durable activities retries',
    fact: 'I work on Reverie, a durable agent platform',
  },
  {
    project: 'Postgres',
    words: 'pgvector embeddings indexes hnsw queries',
    fact: 'I prefer Postgres over MySQL',
  },
  {
    project: 'Kayak',
    words: 'paddling river weekend trips weather',
    fact: 'I love kayaking on weekends',
  },
  {
    project: 'TypeScript',
    words: 'types generics compiler strict builds',
    fact: 'I use TypeScript every day',
  },
  {
    project: 'Berlin',
    words: 'apartment moving neighbourhood rent bikes',
    fact: 'I live in Berlin',
  },
];

/**
 * `count` messages of `userId` in sessions of 100, spread over the past days
 * (one a minute, an hour's pause between sessions), written directly: dreaming
 * reads the database, not the chat path.
 * @returns the message ids in time order
 */
export async function seedConversations(
  pool: Pool,
  userId: string,
  count: number,
  options: { endsAt?: Date; tenantId?: string } = {},
): Promise<string[]> {
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const perSession = 100;
  const end = (options.endsAt ?? new Date(Date.now() - 60_000)).getTime();
  const start = end - count * 60_000 - Math.ceil(count / perSession) * 3_600_000;
  const ids: string[] = [];
  let t = start;
  for (let s = 0; s * perSession < count; s++) {
    const sessionId = randomUUID();
    await pool.query(
      'insert into sessions (id, tenant_id, user_id, title) values ($1, $2, $3, $4)',
      [sessionId, tenantId, userId, `seed ${s}`],
    );
    const n = Math.min(perSession, count - s * perSession);
    const rows: { id: string; role: string; content: string; at: string }[] = [];
    for (let i = 0; i < n; i++) {
      // A new topic every 25 messages, so a session holds a few episodes' worth of themes.
      const topic = TOPICS[(s * 4 + Math.floor(i / 25)) % TOPICS.length];
      const user = i % 2 === 0;
      const content = user
        ? i % 25 === 0
          ? `${topic.fact}. Can you help me with ${topic.project} ${topic.words}?`
          : `More about ${topic.project}: ${topic.words} (${i}).`
        : `Sure, here is how ${topic.project} handles ${topic.words.split(' ').slice(0, 2).join(' and ')}.`;
      rows.push({
        id: randomUUID(),
        role: user ? 'user' : 'assistant',
        content,
        at: new Date(t).toISOString(),
      });
      t += 60_000;
    }
    t += 3_600_000;
    await pool.query(
      `insert into messages (id, tenant_id, session_id, role, content, created_at)
       select x.id, $1, $2, x.role, x.content, x.at from unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) as x(id, role, content, at)`,
      [
        tenantId,
        sessionId,
        rows.map((r) => r.id),
        rows.map((r) => r.role),
        rows.map((r) => r.content),
        rows.map((r) => r.at),
      ],
    );
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}
