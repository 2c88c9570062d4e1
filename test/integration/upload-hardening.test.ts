import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DEFAULT_TENANT_ID } from '../../src/config';
import { startPlatform, type Platform } from '../helpers/platform';

/** Uploads are sniffed, file names cannot traverse, SSE streams are capped per key. */
describe('upload and stream hardening', () => {
  let platform: Platform;
  const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });
  const fileCount = async () =>
    (await platform.pool.query<{ n: number }>('select count(*)::int as n from files')).rows[0].n;

  beforeAll(async () => {
    platform = await startPlatform({ SSE_MAX_PER_KEY: '1', EMBEDDINGS_PROVIDER: 'local' });
  });
  afterAll(() => platform?.close());

  it.each([
    [
      'a PDF that does not start with %PDF-',
      'report.pdf',
      'application/pdf',
      Buffer.from('MZ\x90\x00 not a pdf'),
    ],
    ['text with a NUL byte', 'notes.txt', 'text/plain', Buffer.from('hello\u0000world')],
    ['text that is not UTF-8', 'notes.md', 'text/markdown', Buffer.from([0x68, 0xff, 0xfe, 0x69])],
    [
      'JSON that is an executable',
      'data.json',
      'application/json',
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00]),
    ],
  ])('refuses %s with 415 and keeps nothing', async (_name, filename, contentType, body) => {
    const before = await fileCount();
    const res = await request(platform.url)
      .post('/v1/files')
      .set(auth())
      .attach('file', body, { filename, contentType });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    expect(await fileCount()).toBe(before);
  });

  it('keeps only the last segment of a traversing file name, in storage and Content-Disposition', async () => {
    for (const name of ['../../etc/passwd.txt', '..\\..\\boot.ini.txt']) {
      const res = await request(platform.url)
        .post('/v1/files')
        .set(auth())
        .attach('file', Buffer.from('hello'), { filename: name, contentType: 'text/plain' });
      expect(res.status).toBe(201);
      expect(res.body.filename).not.toMatch(/[\\/]|\.\./);
      const content = await request(platform.url)
        .get(`/v1/files/${res.body.id}/content`)
        .set(auth());
      expect(content.headers['content-disposition']).not.toMatch(/\.\.|[\\/]/);
    }
    const raw = await request(platform.url)
      .post(`/v1/files?filename=${encodeURIComponent('../x/evil.txt')}`)
      .set(auth())
      .set('Content-Type', 'text/plain')
      .send('hello');
    expect(raw.status).toBe(201);
    expect(raw.body.filename).toBe('evil.txt');
  });

  it('caps open SSE streams per key (429 over SSE_MAX_PER_KEY)', async () => {
    const runId = randomUUID();
    await platform.pool.query(
      `insert into runs (id, tenant_id, kind, status) values ($1, $2, 'turn', 'running')`,
      [runId, DEFAULT_TENANT_ID],
    );
    const controller = new AbortController();
    const first = await fetch(`${platform.url}/v1/runs/${runId}/events`, {
      headers: auth(),
      signal: controller.signal,
    });
    expect(first.status).toBe(200);
    const second = await request(platform.url).get(`/v1/runs/${runId}/events`).set(auth());
    expect(second.status).toBe(429);
    expect(second.body.error.details.scope).toBe('sse_connections');
    controller.abort();
    await new Promise((r) => setTimeout(r, 200));
    const third = await fetch(`${platform.url}/v1/runs/${runId}/events`, {
      headers: auth(),
      signal: AbortSignal.timeout(500),
    }).catch((e: Error) => e);
    expect(third instanceof Error ? 'aborted' : third.status).not.toBe(429);
  });

  it('refuses a chat completion with more messages than CHAT_MAX_MESSAGES', async () => {
    const messages = Array.from({ length: 501 }, () => ({ role: 'user', content: 'hi' }));
    const res = await request(platform.url)
      .post('/v1/chat/completions')
      .set(auth())
      .send({ model: 'simulator', messages });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('at most 500');
  });

  it('refuses oversized request headers with 431', async () => {
    const res = await fetch(`${platform.url}/v1/sessions`, {
      headers: { 'X-Pad': 'x'.repeat(20_000) },
    });
    expect(res.status).toBe(431);
  });
});
