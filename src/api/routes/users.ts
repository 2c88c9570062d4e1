import Router from '@koa/router';
import { z } from 'zod';
import { many } from '../../db/sql';
import { getUserProfile } from '../../dreaming/profile';
import { NotFoundError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { cursor, parseInput } from '../validation';

const UserId = z.string().trim().min(1).max(256);
const MomentsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

interface MomentRow {
  id: string;
  user_id: string;
  title: string;
  summary: string;
  topics: string[];
  entities: string[];
  starts_at: Date;
  ends_at: Date;
  source_message_ids: string[];
  run_id: string | null;
  model: string | null;
  prompt_version: string | null;
  created_at: Date;
  updated_at: Date;
  related: { type: string; id: string; score: number; shared_entities: string[] }[];
}

/** What dreaming learnt about a user: the profile and the moments. */
export function usersRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/users' });
  const userParam = (ctx: ApiContext) =>
    parseInput(UserId, (ctx.params as Record<string, string>).id, 'user id');

  route(
    router,
    { method: 'get', path: '/:id/profile', scope: 'memories' },
    async (ctx: ApiContext) => {
      const userId = userParam(ctx);
      const row = await getUserProfile(deps.pool, ctx.state.principal.tenantId, userId);
      if (!row) throw new NotFoundError('profile');
      ctx.body = {
        object: 'user.profile',
        user_id: row.user_id,
        profile: row.profile,
        evidence: row.evidence,
        version: row.version,
        run_id: row.run_id,
        updated_at: row.updated_at.toISOString(),
      };
    },
  );

  route(
    router,
    { method: 'get', path: '/:id/moments', scope: 'memories', query: MomentsQuery },
    async (ctx: ApiContext) => {
      const userId = userParam(ctx);
      const q = parseInput(MomentsQuery, ctx.query, 'query');
      const before = cursor.decode(q.cursor);
      const rows = await many<MomentRow>(
        deps.pool,
        `select m.id, m.user_id, m.title, m.summary, m.topics, m.entities, m.starts_at, m.ends_at, m.source_message_ids,
              m.run_id, m.model, m.prompt_version, m.created_at, m.updated_at,
              coalesce((select json_agg(json_build_object('type', a.type, 'id', a.id, 'score', a.score,
                                                          'shared_entities', a.shared) order by a.score desc)
                        from (select case when l.source_id = m.id then l.target_type else 'moment' end as type,
                                     case when l.source_id = m.id then l.target_id else l.source_id end as id,
                                     l.score, l.shared_entities as shared
                              from affinity_links l
                              where l.tenant_id = m.tenant_id
                                and (l.source_id = m.id or (l.target_type = 'moment' and l.target_id = m.id))
                              order by l.score desc limit 10) a), '[]') as related
       from moments m
       where m.tenant_id = $1 and m.user_id = $2
         and ($3::timestamptz is null or (m.starts_at, m.id) < ($3::timestamptz, $4::uuid))
       order by m.starts_at desc, m.id desc limit $5`,
        [
          ctx.state.principal.tenantId,
          userId,
          before?.createdAt ?? null,
          before?.id ?? null,
          q.limit + 1,
        ],
      );
      const page = rows.slice(0, q.limit);
      ctx.body = {
        object: 'list',
        data: page.map((m) => ({
          id: m.id,
          object: 'moment',
          user_id: m.user_id,
          title: m.title,
          summary: m.summary,
          topics: m.topics,
          entities: m.entities,
          starts_at: m.starts_at.toISOString(),
          ends_at: m.ends_at.toISOString(),
          source_message_ids: m.source_message_ids,
          related: m.related,
          provenance: { run_id: m.run_id, model: m.model, prompt_version: m.prompt_version },
          created_at: m.created_at.toISOString(),
          updated_at: m.updated_at.toISOString(),
        })),
        next_cursor:
          rows.length > q.limit
            ? cursor.encode({
                created_at: page[page.length - 1].starts_at,
                id: page[page.length - 1].id,
              })
            : null,
      };
    },
  );

  return router;
}
