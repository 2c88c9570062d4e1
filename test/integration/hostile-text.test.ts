import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { createApiKey } from '../helpers/test-secrets';
import type { Pool } from '../../src/db/pool';
import { startPlatform, type Platform } from '../helpers/platform';
import { seededRandom } from '../../bench/stats';

/**
 * Hostile text is never a 5xx (API.md "Errors": validation happens before
 * anything is stored). Postgres refuses U+0000 in text and jsonb, and unpaired
 * surrogates in jsonb: every text field of every route is checked up front.
 */

const NUL = 'a\u0000b';
/** A placeholder the cases put where the hostile string goes. */
const V = '\u{1F9EA}value';

interface Case {
  /** Shown in the test name; `field` is what the error must name. */
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  field: string;
  query?: Record<string, string>;
  body?: unknown;
}

/** Replace the placeholder (in values and keys) with `text`. */
function fill<T>(value: T, text: string): T {
  if (typeof value === 'string') return value.split(V).join(text) as T;
  if (Array.isArray(value)) return value.map((v) => fill(v, text)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [fill(k, text), fill(v, text)]),
    ) as T;
  }
  return value;
}

/** Every table a request could write, summarised per tenant: equal digests mean no row changed. */
async function tenantDigest(pool: Pool, tenantId: string): Promise<Record<string, string>> {
  const tables = ['sessions', 'runs', 'messages', 'files', 'memories', 'users', 'feedback'];
  const out: Record<string, string> = {};
  for (const table of tables) {
    // Table names from the list above, never from input.
    const { rows } = await pool.query<{ digest: string }>(
      `select count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '') as digest
         from ${table} t where tenant_id = $1`,
      [tenantId],
    );
    out[table] = rows[0].digest;
  }
  return out;
}

/** Random text: plain letters, any code point, lone surrogates, U+0000, U+FFFF, sometimes very long. */
function randomText(rand: () => number): string {
  const pick = rand();
  const length =
    pick < 0.05 ? 200_000 + Math.floor(rand() * 1_200_000) : Math.floor(rand() * 40) + 1;
  const special = ['\u0000', '\uFFFF', '\uD800', '\uDFFF', '\uFEFF', '\u202E', '\n', '"', '\\'];
  const parts: string[] = [];
  for (let i = 0; i < length;) {
    const r = rand();
    let piece: string;
    if (length > 1000) piece = 'x'.repeat(Math.min(1000, length - i));
    else if (r < 0.15) piece = special[Math.floor(rand() * special.length)];
    else if (r < 0.5) piece = String.fromCharCode(0x20 + Math.floor(rand() * 0x5f));
    else if (r < 0.8) piece = String.fromCharCode(Math.floor(rand() * 0x10000));
    else piece = String.fromCodePoint(Math.floor(rand() * 0x110000));
    parts.push(piece);
    i += piece.length;
  }
  // Long strings get their hostile character too, at a random place.
  if (length > 1000 && rand() < 0.5) parts.splice(Math.floor(rand() * parts.length), 0, '\u0000');
  return parts.join('');
}

describe('hostile text in every text field', () => {
  let platform: Platform;
  let tenantId: string;
  let key: string;
  let sessionId: string;
  const memoryId = randomUUID();
  const runId = randomUUID();

  beforeAll(async () => {
    platform = await startPlatform();
    tenantId = randomUUID();
    await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
      tenantId,
      `hostile-${tenantId}`,
    ]);
    key = (await createApiKey(platform.pool, tenantId, { name: 'hostile text' })).key;
    const created = await send({
      method: 'POST',
      path: '/v1/sessions',
      field: '',
      body: { title: 'target' },
    });
    expect(created.status).toBe(201);
    sessionId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await platform?.close();
  });

  async function send(c: Case, headers: Record<string, string> = {}): Promise<Response> {
    const url = new URL(c.path, platform.url);
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    if (c.path === '/v1/files') {
      return fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
        body: 'some text',
      });
    }
    return fetch(url, {
      method: c.method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: c.body !== undefined ? JSON.stringify(c.body) : undefined,
    });
  }

  /** Every text field of every route that takes text, with the placeholder where text goes. */
  const cases = (): Case[] => {
    const s = `/v1/sessions/${sessionId}`;
    const chat = (extra: Record<string, unknown>) => ({
      model: 'simulator',
      messages: [{ role: 'user', content: 'hi' }],
      ...extra,
    });
    return [
      { method: 'POST', path: '/v1/sessions', field: 'title', body: { title: V } },
      { method: 'POST', path: '/v1/sessions', field: 'user_id', body: { user_id: V } },
      { method: 'POST', path: '/v1/sessions', field: 'agent', body: { agent: V } },
      { method: 'POST', path: '/v1/sessions', field: 'metadata.k', body: { metadata: { k: V } } },
      { method: 'POST', path: '/v1/sessions', field: 'metadata', body: { metadata: { [V]: 1 } } },
      { method: 'GET', path: '/v1/sessions', field: 'user_id', query: { user_id: V } },
      { method: 'GET', path: '/v1/sessions', field: 'cursor', query: { cursor: V } },
      { method: 'PATCH', path: s, field: 'title', body: { title: V } },
      { method: 'PATCH', path: s, field: 'agent', body: { agent: V } },
      { method: 'PATCH', path: s, field: 'metadata.n.0', body: { metadata: { n: [V] } } },
      { method: 'POST', path: `${s}/messages`, field: 'content', body: { content: V } },
      { method: 'POST', path: `${s}/messages`, field: 'agent', body: { content: 'x', agent: V } },
      { method: 'POST', path: `${s}/messages`, field: 'model', body: { content: 'x', model: V } },
      { method: 'POST', path: `${s}/messages`, field: 'system', body: { content: 'x', system: V } },
      {
        method: 'POST',
        path: `${s}/messages`,
        field: 'user_id',
        body: { content: 'x', user_id: V },
      },
      { method: 'GET', path: `${s}/context`, field: 'message', query: { message: V } },
      { method: 'GET', path: `${s}/context`, field: 'system', query: { system: V } },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        field: 'messages.0.content',
        body: chat({ messages: [{ role: 'user', content: V }] }),
      },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        field: 'messages.0.content.0.text',
        body: chat({ messages: [{ role: 'user', content: [{ type: 'text', text: V }] }] }),
      },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        field: 'messages.0.name',
        body: chat({ messages: [{ role: 'user', content: 'hi', name: V }] }),
      },
      { method: 'POST', path: '/v1/chat/completions', field: 'model', body: chat({ model: V }) },
      { method: 'POST', path: '/v1/chat/completions', field: 'user', body: chat({ user: V }) },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        field: 'user_id',
        body: chat({ user_id: V }),
      },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        field: 'metadata.k',
        body: chat({ metadata: { k: V } }),
      },
      { method: 'POST', path: '/v1/memories', field: 'text', body: { text: V, user_id: 'u' } },
      { method: 'POST', path: '/v1/memories', field: 'user_id', body: { text: 't', user_id: V } },
      {
        method: 'POST',
        path: '/v1/memories',
        field: 'messages.0.content',
        body: { messages: [{ role: 'user', content: V }], user_id: 'u' },
      },
      {
        method: 'POST',
        path: '/v1/memories',
        field: 'metadata.k',
        body: { text: 't', user_id: 'u', metadata: { k: V } },
      },
      { method: 'GET', path: '/v1/memories', field: 'user_id', query: { user_id: V } },
      { method: 'DELETE', path: '/v1/memories', field: 'user_id', query: { user_id: V } },
      {
        method: 'POST',
        path: '/v1/memories/search',
        field: 'query',
        body: { query: V, user_id: 'u' },
      },
      {
        method: 'POST',
        path: '/v1/memories/search',
        field: 'user_id',
        body: { query: 'q', user_id: V },
      },
      { method: 'PATCH', path: `/v1/memories/${memoryId}`, field: 'text', body: { text: V } },
      {
        method: 'PATCH',
        path: `/v1/memories/${memoryId}`,
        field: 'category',
        body: { category: V },
      },
      {
        method: 'GET',
        path: `/v1/memories/${memoryId}`,
        field: 'user_id',
        query: { user_id: V },
      },
      { method: 'GET', path: '/v1/search', field: 'q', query: { q: V } },
      {
        method: 'POST',
        path: '/v1/files',
        field: 'filename',
        query: { filename: `${V}.txt` },
        body: 'raw',
      },
      {
        method: 'POST',
        path: '/v1/files',
        field: 'user_id',
        query: { filename: 'a.txt', user_id: V },
        body: 'raw',
      },
      { method: 'GET', path: '/v1/search', field: 'user_id', query: { q: 'x', user_id: V } },
      { method: 'GET', path: '/v1/search', field: 'types', query: { q: 'x', types: V } },
      {
        method: 'POST',
        path: '/v1/feedback',
        field: 'comment',
        body: { run_id: runId, rating: 1, comment: V },
      },
      {
        method: 'POST',
        path: '/v1/feedback',
        field: 'user_id',
        body: { run_id: runId, rating: 1, user_id: V },
      },
      { method: 'POST', path: '/v1/dreaming/runs', field: 'user_id', body: { user_id: V } },
      { method: 'PUT', path: '/v1/dreaming/schedule', field: 'interval', body: { interval: V } },
      { method: 'PUT', path: '/v1/dreaming/schedule', field: 'cron', body: { cron: V } },
      { method: 'GET', path: `/v1/users/${V}/profile`, field: 'user id' },
      { method: 'GET', path: `/v1/users/${V}/moments`, field: 'user id' },
      { method: 'GET', path: '/v1/users/u/moments', field: 'cursor', query: { cursor: V } },
    ];
  };

  it('answers 400 invalid_request naming the field for a NUL anywhere, and changes no row', async () => {
    const failures: string[] = [];
    for (const c of cases()) {
      const hostile = fill(c, NUL);
      const before = await tenantDigest(platform.pool, tenantId);
      const res = await send(hostile);
      const body = (await res.json().catch(() => ({}))) as {
        error?: { code?: string; message?: string };
      };
      const label = `${c.method} ${c.path.replace(sessionId, '{id}')} ${c.field}`;
      if (res.status !== 400 || body.error?.code !== 'invalid_request') {
        failures.push(`${label}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      } else if (!body.error.message?.includes(c.field)) {
        failures.push(`${label}: message does not name the field: ${body.error.message}`);
      }
      const after = await tenantDigest(platform.pool, tenantId);
      if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`${label}: rows changed`);
    }
    expect(failures).toEqual([]);
  });

  it('answers 400 for a NUL in a multipart file name, storing nothing', async () => {
    const before = await tenantDigest(platform.pool, tenantId);
    // RFC 5987 `filename*` is percent-decoded by the parser: %00 arrives as U+0000.
    const body =
      '--B\r\nContent-Disposition: form-data; name="file"; filename*=utf-8\'\'a%00b.txt\r\n' +
      'Content-Type: text/plain\r\n\r\nhello\r\n--B--\r\n';
    const res = await fetch(`${platform.url}/v1/files`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'multipart/form-data; boundary=B',
      },
      body,
    });
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect({ status: res.status, code: json.error.code }).toEqual({
      status: 400,
      code: 'invalid_request',
    });
    expect(json.error.message).toMatch(/file name/);
    expect(await tenantDigest(platform.pool, tenantId)).toEqual(before);
  });

  it('answers 400 for an unpaired surrogate in text that would be stored as JSON', async () => {
    const failures: string[] = [];
    for (const c of cases().filter((x) => x.body !== undefined)) {
      const res = await send(fill(c, 'a\uD800b'));
      if (res.status >= 500) failures.push(`${c.method} ${c.path} ${c.field}: ${res.status}`);
      await res.body?.cancel();
    }
    expect(failures).toEqual([]);
  });

  it('a NUL in a header is refused with 400, never a 5xx', async () => {
    // fetch refuses to send such a header; a raw socket shows what the server does with one.
    const { port } = new URL(platform.url);
    for (const header of ['X-User-Id', 'X-Agent-Schema', 'Idempotency-Key', 'X-Session-Id']) {
      const status = await new Promise<number>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.end(
            `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
              `Content-Type: application/json\r\nContent-Length: 2\r\n${header}: a\u0000b\r\n\r\n{}`,
            'latin1',
          );
        });
        let head = '';
        socket.on('data', (d: Buffer) => {
          head += d.toString('latin1');
          const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
          if (match) {
            resolve(Number(match[1]));
            socket.destroy();
          }
        });
        socket.on('error', reject);
      });
      expect({ header, status }).toEqual({ header, status: 400 });
    }
  });

  it('a seeded fuzz of random unicode in every text field gets no 5xx', async () => {
    const rand = seededRandom(20261201);
    const all = cases();
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const c = all[Math.floor(rand() * all.length)];
      const text = randomText(rand);
      const res = await send(fill(c, text));
      if (res.status >= 500) {
        const body = await res.text();
        failures.push(
          `#${i} ${c.method} ${c.path} ${c.field} ${JSON.stringify(text.slice(0, 60))} (${text.length} chars): ${res.status} ${body.slice(0, 200)}`,
        );
      } else {
        await res.body?.cancel();
      }
    }
    expect(failures).toEqual([]);
  });
});
