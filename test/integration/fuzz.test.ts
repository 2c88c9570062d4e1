import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { DEFAULT_SCOPES } from '../../src/db/api-keys';
import { createApiKey } from '../helpers/test-secrets';
import { startPlatform, type Platform } from '../helpers/platform';
import { migrate } from '../../src/db/migrate';
import { throwawayDatabase } from '../helpers/throwaway-database';

type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
  'x-scope': string;
};
type Route = { method: string; path: string; op: Operation };

/** One hostile request: what is sent, and which attack made it. */
interface Attack {
  kind: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  contentType?: string;
}

const NUL = '\u0000';
// TODO(validation NUL fix, wt-defects): U+0000 500s belong to the NUL fix at the
// validation layer (src/api/validation.ts / identity.ts). This seed found none,
// so nothing is skipped; set true only if a NUL case 500s before that fix lands.
const SKIP_NUL = false;

const oddStrings = fc.oneof(
  fc.constant(NUL),
  fc.constant('\uD800'),
  fc.constant('\uDFFFa\uD83D'),
  fc.constant('\u202Eevil\u202C'),
  fc.constant('𝕳𝖊𝖑𝖑𝖔 🧨'),
  fc.constant('../../etc/passwd'),
  fc.constant("' or 1=1 --"),
  fc.constant('x'.repeat(300_000)),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.anything({ maxDepth: 1 }), { maxKeys: 3 }),
  oddStrings,
);
const badId = fc.oneof(
  fc.constant('not-a-uuid'),
  fc.constant('00000000-0000-0000-0000-00000000000g'),
  fc.constant(`${randomUUID()}x`),
  fc.constant('%00'),
  fc.constant('%E0%A4%A'),
  fc.constant('..%2F..%2Fetc'),
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
);

/** Percent-encode, lone surrogates included (as the bytes a broken client would send). */
function encodeAny(value: string): string {
  return value.replace(/[\s\S]/gu, (ch) => {
    try {
      return encodeURIComponent(ch);
    } catch {
      return '%ED%A0%80';
    }
  });
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function attacks(route: Route): fc.Arbitrary<Attack> {
  const props = Object.keys(
    route.op.requestBody?.content['application/json']?.schema?.properties ?? {},
  );
  const queryNames = (route.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  const path = (id: string) => route.path.replace(/\{(\w+)\}/g, () => id);
  const fresh = path(randomUUID());
  const json = (value: unknown) => ({
    body: JSON.stringify(value),
    contentType: 'application/json',
  });
  return fc.oneof(
    // A known field with the wrong type (or odd unicode), next to nothing else.
    fc
      .record({ field: fc.constantFrom(...(props.length ? props : ['x'])), value: wrongValue })
      .map(({ field, value }) => ({
        kind: 'wrong type',
        path: fresh,
        ...json({ [field]: value }),
      })),
    // Unknown fields and odd unicode everywhere.
    fc
      .dictionary(oddStrings, wrongValue, { maxKeys: 4 })
      .map((v) => ({ kind: 'odd unicode / unknown fields', path: fresh, ...json(v) })),
    fc.constant({
      kind: 'huge JSON (2 MB)',
      path: fresh,
      ...json({ content: 'x'.repeat(2_100_000) }),
    }),
    fc.integer({ min: 1_000, max: 20_000 }).map((d) => ({
      kind: 'deeply nested JSON',
      path: fresh,
      body: nested(d),
      contentType: 'application/json',
    })),
    fc.integer({ min: 1_000, max: 5_000 }).map((d) => ({
      kind: 'deeply nested JSON in a field',
      path: fresh,
      body: `{"metadata":{"a":${nested(d)}},"title":"t"}`,
      contentType: 'application/json',
    })),
    badId.map((id) => ({ kind: 'bad id', path: path(id), ...json({}) })),
    fc.tuple(fc.string({ maxLength: 200 }), fc.nat()).map(([s, cut]) => {
      const text = JSON.stringify({
        content: s,
        title: s,
        name: s,
        messages: [{ role: 'user', content: s }],
      });
      return {
        kind: 'truncated body',
        path: fresh,
        body: text.slice(0, cut % text.length),
        contentType: 'application/json',
      };
    }),
    fc
      .constantFrom(
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'image/png',
      )
      .map((ct) => ({
        kind: 'wrong content type',
        path: fresh,
        body: '{"content":"hi","name":"n"}',
        contentType: ct,
      })),
    fc
      .record({
        name: fc.constantFrom(...(queryNames.length ? queryNames : ['limit'])),
        value: fc.oneof(
          fc.constantFrom('-1', '1e309', 'NaN', '0x10', '99999999999999999999', '', '[]'),
          oddStrings.map((s) => s.slice(0, 2000)),
        ),
      })
      .map(({ name, value }) => ({
        kind: 'bad query',
        path: fresh,
        query: `${name}=${encodeAny(value)}&${name}=2`,
      })),
    fc
      .record({
        header: fc.constantFrom(
          'X-Session-Id',
          'X-User-Id',
          'Idempotency-Key',
          'Last-Event-ID',
          'X-Stream-Events',
          'X-Tenant-Id',
          'X-Agent-Schema',
        ),
        value: fc.oneof(
          fc.constant('x'.repeat(5000)),
          fc.constant('-1'),
          fc.constant('not-a-uuid'),
          fc.string({ unit: 'grapheme-ascii', maxLength: 50 }),
        ),
      })
      .map(({ header, value }) => ({
        kind: 'bad header',
        path: fresh,
        headers: { [header]: value },
        ...json({}),
      })),
  );
}

/** Property-based hostile input, driven by the OpenAPI document, across every route. */
describe('hostile input (fuzz)', () => {
  let platform: Platform;
  let routes: Route[];
  let key: string;
  let admin: string;
  const tally = new Map<string, Map<number, number>>();

  let db: Awaited<ReturnType<typeof throwawayDatabase>>;

  beforeAll(async () => {
    // A database of its own: "a rejected request changes no row" is checked on
    // whole tables, which other test files write to meanwhile.
    db = await throwawayDatabase();
    await migrate(db.pool(), { log: () => undefined });
    platform = await startPlatform({ DATABASE_URL: db.url });
    admin = platform.config.security.adminToken!;
    key = (
      await createApiKey(
        platform.pool,
        (await platform.pool.query('select id from tenants limit 1')).rows[0].id,
        { scopes: DEFAULT_SCOPES },
      )
    ).key;
    const doc = (await request(platform.url).get('/v1/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
    };
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method, path, op })),
    );
  });
  afterAll(async () => {
    const lines = [...tally].map(
      ([kind, by]) => `${kind}: ${[...by].map(([s, n]) => `${s}×${n}`).join(' ')}`,
    );
    process.stdout.write(`fuzz results by attack:\n  ${lines.join('\n  ')}\n`);
    await platform?.close();
    await db?.drop();
  });

  async function counts(): Promise<string> {
    const tables = await platform.pool.query<{ tablename: string }>(
      "select tablename from pg_tables where schemaname = 'public' and tablename not in ('rate_limits', 'sse_leases', 'schema_migrations') order by 1",
    );
    const sql = tables.rows
      .map((t) => `select '${t.tablename}' as t, count(*)::int as n from "${t.tablename}"`)
      .join(' union all ');
    const res = await platform.pool.query<{ t: string; n: number }>(sql);
    return res.rows.map((r) => `${r.t}=${r.n}`).join(',');
  }

  /**
   * Counts once the work an accepted request started has stopped writing: no
   * run queued or running and nothing changed for 250 ms, or nothing changed
   * for a full second (a run that never ends); at most 10 s.
   */
  async function settled(): Promise<string> {
    let last = await counts();
    for (let unchanged = 0, i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await counts();
      unchanged = now === last ? unchanged + 1 : 0;
      last = now;
      if (unchanged >= 4 || (unchanged >= 1 && (await liveRuns()) === 0)) break;
    }
    return last;
  }

  async function liveRuns(): Promise<number> {
    const res = await platform.pool.query<{ n: number }>(
      "select count(*)::int as n from runs where status in ('queued', 'running')",
    );
    return res.rows[0].n;
  }

  it('answers thousands of malformed requests without a 5xx, in the error shape, changing nothing', async () => {
    const failures: string[] = [];
    let before = await counts();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...routes)
          .chain((route) => attacks(route).map((attack) => ({ route, attack }))),
        async ({ route, attack }) => {
          const containsNul =
            JSON.stringify(attack).includes('\\u0000') || attack.path.includes('%00');
          const auth = route.op['x-scope'] === 'admin' ? admin : key;
          const agent = request(platform.url);
          let req = agent[route.method as 'post'](
            `${attack.path}${attack.query ? `?${attack.query}` : ''}`,
          )
            .set('Authorization', `Bearer ${auth}`)
            .timeout(15_000);
          for (const [h, v] of Object.entries(attack.headers ?? {})) req = req.set(h, v);
          if (attack.contentType) req = req.set('Content-Type', attack.contentType);
          let res: request.Response;
          try {
            res =
              route.method === 'get' || route.method === 'delete'
                ? await req
                : await req.send(attack.body ?? '');
          } catch (err) {
            failures.push(
              `${attack.kind} ${route.method} ${attack.path}: ${(err as Error).message}`,
            );
            return;
          }
          sent++;
          const by = tally.get(attack.kind) ?? new Map<number, number>();
          by.set(res.status, (by.get(res.status) ?? 0) + 1);
          tally.set(attack.kind, by);
          if (res.status >= 500) {
            if (SKIP_NUL && containsNul) return;
            failures.push(
              `${attack.kind} ${route.method} ${route.path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
            );
            return;
          }
          if (res.status >= 400) {
            const e = (res.body as { error?: Record<string, unknown> }).error;
            if (
              !e ||
              typeof e.code !== 'string' ||
              typeof e.message !== 'string' ||
              typeof e.type !== 'string' ||
              typeof e.details !== 'object' ||
              !('request_id' in e)
            )
              failures.push(
                `${attack.kind} ${route.method} ${route.path} → ${res.status} not in the error shape`,
              );
            const after = await counts();
            if (after !== before) {
              const was = new Set(before.split(','));
              const diff = after.split(',').filter((c) => !was.has(c));
              failures.push(
                `${attack.kind} ${route.method} ${route.path} → ${res.status} changed rows: ${diff.join(' ')}`,
              );
            }
            before = after;
          } else {
            // Accepted (a generated body that happens to be valid): new baseline
            // once the work it started (turns, ingestions) has stopped writing.
            // (GETs start no work, but one writes: /v1/dev/token makes a key.)
            before = route.method === 'get' ? await counts() : await settled();
          }
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2500), seed: 20261201 },
    );
    process.stdout.write(`fuzz: ${sent} requests across ${routes.length} operations\n`);
    expect(failures.slice(0, 30)).toEqual([]);
    expect(sent).toBeGreaterThan(2000);
  }, 480_000);
});
