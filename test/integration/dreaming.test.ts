import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import { seedConversations } from '../helpers/dream-seed';
import { startPlatform, type Platform } from '../helpers/platform';

/** Dreaming end to end with the simulator: moments, facts, profile, affinity, watermark, revert. */
describe('dreaming', () => {
  let platform: Platform;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });

  beforeAll(async () => {
    platform = await startPlatform();
  });
  afterAll(async () => {
    await platform?.close();
  });

  async function dream(body: Record<string, unknown>) {
    const res = await request(platform.url)
      .post('/v1/dreaming/runs')
      .set(auth())
      .send(body)
      .expect(202);
    expect(res.body.kind).toBe('dream');
    const done = await request(platform.url)
      .get(`/v1/runs/${res.body.id}/wait?timeout=60`)
      .set(auth())
      .expect(200);
    return done.body as {
      id: string;
      status: string;
      error: { code: string } | null;
      usage: { model_calls: number; total_tokens: number };
      workflow_id: string;
    };
  }

  async function rows(userId: string) {
    const q = async (sql: string) => (await platform.pool.query(sql, [userId])).rows;
    return {
      moments: await q(
        'select id, title, summary, topics, entities, source_message_ids from moments where user_id = $1 order by id',
      ),
      memories: await q(
        'select id, content, valid_to from memories where user_id = $1 order by id',
      ),
      profile: (
        await q('select profile, evidence, version from user_profiles where user_id = $1')
      )[0],
      links: await q(
        'select source_id, target_type, target_id, score from affinity_links where user_id = $1 order by 1, 2, 3',
      ),
      state: (await q('select watermark, last_run_id from dreaming_state where user_id = $1'))[0],
    };
  }

  async function events(runId: string) {
    return (
      await platform.pool.query<{ type: string; data: Record<string, unknown> }>(
        'select type, data from run_events where run_id = $1 order by seq',
        [runId],
      )
    ).rows;
  }

  it('turns 1k messages into moments, memories and a profile, within 1 model call per 50 messages', async () => {
    const user = `dreamer-${randomUUID()}`;
    const messageIds = await seedConversations(platform.pool, user, 1000);
    const run = await dream({ user_id: user });
    expect(run.status).toBe('succeeded');
    expect(run.workflow_id).toMatch(new RegExp(`^dream:[0-9a-f-]+:${user}:\\d{8}T\\d+Z$`));
    expect(run.usage.model_calls).toBeGreaterThan(0);
    expect(run.usage.model_calls).toBeLessThanOrEqual(1000 / 50);

    const state = await rows(user);
    expect(state.moments.length).toBeGreaterThanOrEqual(20);
    const covered = new Set(state.moments.flatMap((m) => m.source_message_ids as string[]));
    expect(covered.size).toBe(messageIds.length);
    expect(state.moments[0].title).toEqual(expect.any(String));
    expect(state.memories.length).toBeGreaterThan(0);
    expect(state.profile.profile.current_projects.length).toBeGreaterThan(0);
    expect(state.profile.evidence.current_projects.length).toBeGreaterThan(0);
    expect(state.links.length).toBeGreaterThan(0);
    expect(state.state.last_run_id).toBe(run.id);

    const log = await events(run.id);
    expect(log[0].type).toBe('run.started');
    expect(log.filter((e) => e.type === 'progress').length).toBeGreaterThanOrEqual(5);
    expect(log[log.length - 1]).toMatchObject({ type: 'done', data: { reason: 'completed' } });

    // Profile and moments through the API.
    const profile = await request(platform.url)
      .get(`/v1/users/${user}/profile`)
      .set(auth())
      .expect(200);
    expect(profile.body.profile.interests.length).toBeGreaterThan(0);
    const moments = await request(platform.url)
      .get(`/v1/users/${user}/moments?limit=5`)
      .set(auth())
      .expect(200);
    expect(moments.body.data).toHaveLength(5);
    expect(moments.body.next_cursor).toEqual(expect.any(String));
    const next = await request(platform.url)
      .get(`/v1/users/${user}/moments?limit=5&cursor=${moments.body.next_cursor}`)
      .set(auth())
      .expect(200);
    expect(next.body.data[0].id).not.toBe(moments.body.data[4].id);

    // Every change with provenance.
    const changes = await request(platform.url)
      .get(`/v1/dreaming/runs/${run.id}/changes?limit=1000`)
      .set(auth())
      .expect(200);
    const kinds = new Set(changes.body.data.map((c: { kind: string }) => c.kind));
    expect([...kinds].sort()).toEqual(['affinity', 'memory', 'moment', 'profile']);
    const moment = changes.body.data.find((c: { kind: string }) => c.kind === 'moment');
    expect(moment.provenance).toMatchObject({
      run_id: run.id,
      model: 'simulator',
      prompt_version: 'dream-moments/v1',
    });
    expect(moment.provenance.source_message_ids.length).toBeGreaterThan(0);

    // Listed among the runs.
    const runs = await request(platform.url)
      .get('/v1/runs?kind=dream&limit=100')
      .set(auth())
      .expect(200);
    expect(runs.body.data.map((r: { id: string }) => r.id)).toContain(run.id);
  });

  it('is idempotent: a second run finds nothing new; re-running the window rewrites the same rows', async () => {
    const user = `dreamer-${randomUUID()}`;
    await seedConversations(platform.pool, user, 300);
    const first = await dream({ user_id: user });
    expect(first.status).toBe('succeeded');
    const before = await rows(user);

    const second = await dream({ user_id: user });
    expect(second.status).toBe('succeeded');
    expect(second.usage.model_calls).toBe(0);
    expect((await events(second.id)).pop()).toMatchObject({
      type: 'done',
      data: { reason: 'no_activity' },
    });
    const unchanged = await rows(user);
    expect({ ...unchanged, state: undefined }).toEqual({ ...before, state: undefined });
    // The window moved on: its end is the new watermark.
    expect(unchanged.state.last_run_id).toBe(second.id);
    expect(unchanged.state.watermark.getTime()).toBeGreaterThan(before.state.watermark.getTime());

    // Forget the watermark: the same window is dreamt again, into the same rows.
    await platform.pool.query('delete from dreaming_state where user_id = $1', [user]);
    const third = await dream({ user_id: user });
    expect(third.status).toBe('succeeded');
    const after = await rows(user);
    expect(after.moments).toEqual(before.moments);
    expect(after.memories).toEqual(before.memories);
    expect(after.profile).toEqual(before.profile);
    expect(after.links).toEqual(before.links);
    const changes = await request(platform.url)
      .get(`/v1/dreaming/runs/${third.id}/changes`)
      .set(auth())
      .expect(200);
    expect(changes.body.data).toEqual([]);
  });

  it('dry run proposes changes without applying them', async () => {
    const user = `dreamer-${randomUUID()}`;
    await seedConversations(platform.pool, user, 120);
    const run = await dream({ user_id: user, dry_run: true });
    expect(run.status).toBe('succeeded');
    const changes = await request(platform.url)
      .get(`/v1/dreaming/runs/${run.id}/changes`)
      .set(auth())
      .expect(200);
    expect(changes.body.dry_run).toBe(true);
    expect(changes.body.data.length).toBeGreaterThan(0);
    expect(changes.body.data.every((c: { applied: boolean }) => !c.applied)).toBe(true);
    const state = await rows(user);
    expect(state.moments).toEqual([]);
    expect(state.memories).toEqual([]);
    expect(state.profile).toBeUndefined();
    expect(state.state).toBeUndefined();
  });

  it('reverts a run: moments and links removed, memories invalidated (not deleted), profile restored', async () => {
    const user = `dreamer-${randomUUID()}`;
    await seedConversations(platform.pool, user, 200);
    const run = await dream({ user_id: user });
    const applied = await rows(user);
    expect(applied.memories.length).toBeGreaterThan(0);

    const res = await request(platform.url)
      .post(`/v1/dreaming/runs/${run.id}/revert`)
      .set(auth())
      .expect(200);
    expect(res.body.reverted).toBeGreaterThan(0);
    expect(res.body.skipped).toEqual([]);
    const reverted = await rows(user);
    expect(reverted.moments).toEqual([]);
    expect(reverted.links).toEqual([]);
    expect(reverted.memories).toHaveLength(applied.memories.length);
    expect(reverted.memories.every((m) => m.valid_to !== null)).toBe(true);
    for (const field of ['current_projects', 'interests', 'recent_activity'])
      expect(reverted.profile.profile[field]).toBeUndefined();

    const again = await request(platform.url)
      .post(`/v1/dreaming/runs/${run.id}/revert`)
      .set(auth())
      .expect(200);
    expect(again.body.reverted).toBe(0);
  });

  it('stops cleanly at the token budget, keeping the watermark', async () => {
    const user = `dreamer-${randomUUID()}`;
    await seedConversations(platform.pool, user, 600);
    const run = await dream({ user_id: user, token_budget: 1000 });
    expect(run.status).toBe('interrupted');
    expect(run.error?.code).toBe('token_budget_exceeded');
    expect(run.usage.total_tokens).toBeGreaterThanOrEqual(1000);
    expect((await rows(user)).state).toBeUndefined();
  });

  it('fans out over users with new activity only', async () => {
    // A tenant of its own: the fan-out dreams every active user of the tenant.
    const tenantId = randomUUID();
    await platform.pool.query(`insert into tenants (id, name) values ($1, 'dream fan-out')`, [
      tenantId,
    ]);
    const { key } = await createApiKey(platform.pool, tenantId, { name: 'fan-out' });
    const active = `dreamer-${randomUUID()}`;
    const idle = `dreamer-${randomUUID()}`;
    await seedConversations(platform.pool, idle, 50, {
      tenantId,
      endsAt: new Date(Date.now() - 3_600_000 * 24),
    });
    // The idle user was dreamt already: nothing new since its watermark.
    await platform.pool.query(
      `insert into dreaming_state (tenant_id, user_id, watermark) values ($1, $2, now())`,
      [tenantId, idle],
    );
    await seedConversations(platform.pool, active, 60, { tenantId });

    const started = await request(platform.url)
      .post('/v1/dreaming/runs')
      .set({ Authorization: `Bearer ${key}` })
      .send({})
      .expect(202);
    const parent = (
      await request(platform.url)
        .get(`/v1/runs/${started.body.id}/wait?timeout=60`)
        .set({ Authorization: `Bearer ${key}` })
        .expect(200)
    ).body;
    expect(parent.status).toBe('succeeded');
    const log = await events(parent.id);
    const dreamt = log.filter((e) => e.type === 'progress').map((e) => e.data.user_id);
    expect(dreamt).toContain(active);
    expect(dreamt).not.toContain(idle);
    const children = await platform.pool.query(
      `select user_id, status from runs where kind = 'dream' and input->>'parent_run_id' = $1`,
      [parent.id],
    );
    expect(children.rows.find((r) => r.user_id === active)?.status).toBe('succeeded');
    expect(children.rows.find((r) => r.user_id === idle)).toBeUndefined();
  });

  it('answers 404 for a user without a profile and 400 for a bad body', async () => {
    await request(platform.url)
      .get(`/v1/users/nobody-${randomUUID()}/profile`)
      .set(auth())
      .expect(404);
    await request(platform.url)
      .post('/v1/dreaming/runs')
      .set(auth())
      .send({ dry_run: 'yes' })
      .expect(400);
    await request(platform.url)
      .get(`/v1/dreaming/runs/${randomUUID()}/changes`)
      .set(auth())
      .expect(404);
  });
});
