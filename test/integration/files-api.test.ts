import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import request from 'supertest';
import { createApiKey } from '../helpers/test-secrets';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startPlatform, type Platform } from '../helpers/platform';
import { s3TestEnv } from '../helpers/s3-server';
import {
  binaryBytes,
  longText,
  makePdf,
  PDF_PAGES,
  TEXT_FILES,
  WORDS,
} from '../fixtures/files/make-fixtures';

interface FileJson {
  id: string;
  status: string;
  chunk_count: number;
  error: { code: string; message: string } | null;
  run_id: string;
  filename: string;
  size_bytes: number;
}

/** Parse a finished SSE body into frames. */
function frames(body: string): { id?: string; event?: string; data: string }[] {
  return body
    .split('\n\n')
    .filter((block) => block.split('\n').some((l) => l.startsWith('data:')))
    .map((block) => {
      const frame: { id?: string; event?: string; data: string } = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data += line.slice(6);
      }
      return frame;
    });
}

/** Keys of a tenant's original files in the platform's blob store (fs or S3). */
async function tenantBlobs(platform: Platform, tenantId: string): Promise<string[]> {
  const { blob } = platform.config;
  const prefix = `files/${tenantId}/`;
  if (blob.driver === 'fs') {
    return readdir(path.join(blob.dir, prefix)).catch(() => [] as string[]);
  }
  const s3 = new S3Client({
    endpoint: blob.s3.endpoint,
    region: blob.s3.region,
    forcePathStyle: blob.s3.forcePathStyle,
    credentials: { accessKeyId: blob.s3.accessKeyId!, secretAccessKey: blob.s3.secretAccessKey! },
  });
  try {
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: blob.s3.bucket, Prefix: `${blob.s3.prefix}${prefix}` }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!);
  } finally {
    s3.destroy();
  }
}

function filesSuite(name: string, overrides: () => Record<string, string>) {
  describe(name, () => {
    let fake: FakeOpenAI;
    let platform: Platform;
    const auth = () => ({ Authorization: `Bearer ${platform.apiKey}` });

    beforeAll(async () => {
      fake = await startFakeOpenAI();
      platform = await startPlatform({
        LLM_BASE_URL: fake.baseURL,
        OPENAI_API_KEY: 'sk-test',
        LLM_MODEL: 'fake-model',
        EMBEDDINGS_PROVIDER: 'local',
        MAX_UPLOAD_BYTES: String(2 * 1024 * 1024),
        INGEST_CHUNK_TOKENS: '120',
        INGEST_CHUNK_OVERLAP_TOKENS: '20',
        INGEST_EMBED_BATCH: '16',
        ...overrides(),
      });
    });
    afterAll(async () => {
      await platform?.close();
      await fake?.close();
    });
    beforeEach(() => fake.reset());

    const api = () => request(platform.url);

    function uploadMultipart(filename: string, body: Buffer | string, contentType: string) {
      return api()
        .post('/v1/files')
        .set(auth())
        .attach('file', Buffer.from(body), { filename, contentType });
    }

    function uploadRaw(filename: string, body: Buffer | string, contentType: string) {
      return (
        api()
          .post(`/v1/files?filename=${encodeURIComponent(filename)}`)
          .set(auth())
          .set('Content-Type', contentType)
          // superagent would JSON-encode a Buffer sent as JSON: send its text.
          .send(contentType.includes('json') ? Buffer.from(body).toString() : Buffer.from(body))
      );
    }

    async function settled(id: string): Promise<FileJson> {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await api().get(`/v1/files/${id}`).set(auth()).expect(200);
        if (res.body.status !== 'processing') return res.body as FileJson;
        if (Date.now() > deadline) throw new Error(`file ${id} still processing`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    async function storedChunks(fileId: string): Promise<number> {
      const res = await platform.pool.query<{ n: number }>(
        'select count(*)::int as n from chunks where file_id = $1',
        [fileId],
      );
      return res.rows[0].n;
    }

    async function counts() {
      const res = await platform.pool.query<{ files: number; runs: number }>(
        `select (select count(*)::int from files) as files, (select count(*)::int from runs where kind = 'ingest') as runs`,
      );
      return res.rows[0];
    }

    it.each(Object.entries(TEXT_FILES))(
      'ingests %s (multipart) and serves it back',
      async (filename, fixture) => {
        const res = await uploadMultipart(filename, fixture.body, fixture.contentType).expect(201);
        expect(res.body).toMatchObject({ status: 'processing', filename });
        expect(res.body.run_id).toEqual(expect.any(String));
        const file = await settled(res.body.id);
        expect(file.error).toBeNull();
        expect(file.status).toBe('ready');
        expect(file.chunk_count).toBeGreaterThan(0);
        expect(await storedChunks(file.id)).toBe(file.chunk_count);
        const content = await api()
          .get(`/v1/files/${file.id}/content`)
          .set(auth())
          .buffer(true)
          .parse((r, cb) => {
            const parts: Buffer[] = [];
            r.on('data', (d: Buffer) => parts.push(d));
            r.on('end', () => cb(null, Buffer.concat(parts)));
          });
        expect(content.status).toBe(200);
        expect((content.body as Buffer).toString()).toBe(fixture.body);
      },
    );

    it('ingests a multi-page PDF sent as a raw body, and search finds its page', async () => {
      const pdf = await makePdf(PDF_PAGES);
      const res = await uploadRaw('field-report.pdf', pdf, 'application/pdf').expect(201);
      const file = await settled(res.body.id);
      expect(file).toMatchObject({ status: 'ready', size_bytes: pdf.length });
      const search = await api()
        .get(`/v1/search?q=${WORDS.pdf}&types=chunks`)
        .set(auth())
        .expect(200);
      const hit = search.body.data.find(
        (h: { source: { file_id: string } }) => h.source.file_id === file.id,
      );
      expect(hit).toMatchObject({
        type: 'chunks',
        source: { filename: 'field-report.pdf', page: 3 },
      });
      expect(hit.text).toContain(WORDS.pdf);
      expect(hit.source.start_offset).toEqual(expect.any(Number));
    });

    it('logs progress per stage and replays the log, resumable, on /events', async () => {
      const res = await uploadRaw('long.txt', longText(60), 'text/plain').expect(201);
      const file = await settled(res.body.id);
      expect(file.status).toBe('ready');
      const all = frames(
        (await api().get(`/v1/files/${file.id}/events`).set(auth()).expect(200)).text,
      );
      const types = all.map((f) => f.event);
      expect(types[0]).toBe('run.started');
      expect(types[types.length - 1]).toBe('done');
      const progress = all
        .filter((f) => f.event === 'progress')
        .map((f) => JSON.parse(f.data) as { stage: string; done: number; total: number });
      expect(progress.map((p) => p.stage)).toEqual(
        expect.arrayContaining(['parse', 'chunk', 'embed']),
      );
      const embeds = progress.filter((p) => p.stage === 'embed');
      expect(embeds.length).toBeGreaterThan(1);
      expect(embeds[embeds.length - 1]).toEqual({
        stage: 'embed',
        done: file.chunk_count,
        total: file.chunk_count,
      });
      expect(JSON.parse(all[all.length - 1].data)).toMatchObject({
        reason: 'ready',
        file_id: file.id,
        chunk_count: file.chunk_count,
      });
      // Resume after the third event: state first, then the rest.
      const resumed = frames(
        (
          await api()
            .get(`/v1/files/${file.id}/events`)
            .set(auth())
            .set('Last-Event-ID', all[2].id!)
            .expect(200)
        ).text,
      );
      expect(resumed[0].event).toBe('run.state');
      expect(resumed.slice(1).map((f) => f.id)).toEqual(all.slice(3).map((f) => f.id));
    });

    it('refuses unsupported types with 415 before storing anything', async () => {
      const before = await counts();
      const cases = [
        uploadMultipart('tool.exe', 'MZ...', 'application/octet-stream'),
        uploadMultipart('photo.txt', 'hello', 'image/png'),
        uploadRaw('report.pdf', 'plain words', 'text/plain'),
        uploadRaw('archive.zip', 'PK..', 'application/zip'),
      ];
      for (const pending of cases) {
        const res = await pending;
        expect(res.status).toBe(415);
        expect(res.body.error.code).toBe('unsupported_media_type');
      }
      const noName = await api()
        .post('/v1/files')
        .set(auth())
        .set('Content-Type', 'text/plain')
        .send('hi');
      expect(noName.status).toBe(400);
      expect(await counts()).toEqual(before);
    });

    it('refuses bodies over the size limit with 413 and stores nothing', async () => {
      const before = await counts();
      const big = Buffer.alloc(2 * 1024 * 1024 + 10, 'a');
      const raw = await uploadRaw('big.txt', big, 'text/plain');
      expect(raw.status).toBe(413);
      expect(raw.body.error.code).toBe('payload_too_large');
      const multipart = await uploadMultipart('big.txt', big, 'text/plain');
      expect(multipart.status).toBe(413);
      // Chunked (no Content-Length): caught while streaming.
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = api()
          .post('/v1/files?filename=big.txt')
          .set(auth())
          .set('Content-Type', 'text/plain');
        req.on('response', (r: { status: number }) => resolve(r.status));
        req.on('error', reject);
        for (let i = 0; i < 9; i++) req.write(Buffer.alloc(256 * 1024, 'b'));
        void req.end();
      });
      expect(chunked).toBe(413);
      expect(await counts()).toEqual(before);
    });

    it('refuses an empty upload (multipart or raw) with 400 and stores no row, run or blob', async () => {
      // A tenant of its own, so its row and blob counts see only this test.
      const tenantId = randomUUID();
      await platform.pool.query('insert into tenants (id, name) values ($1, $2)', [
        tenantId,
        `empty-uploads-${tenantId}`,
      ]);
      const { key } = await createApiKey(platform.pool, tenantId, { name: 'empty uploads' });
      const as = { Authorization: `Bearer ${key}` };
      const empty = Buffer.alloc(0);
      const attempts = [
        api().post('/v1/files').set(as).attach('file', empty, {
          filename: 'zero.txt',
          contentType: 'text/plain',
        }),
        api()
          .post('/v1/files?filename=zero.txt')
          .set(as)
          .set('Content-Type', 'text/plain')
          .send(empty),
        // Chunked, no Content-Length: only the end of the stream shows it is empty.
        new Promise<request.Response>((resolve, reject) => {
          const req = api()
            .post('/v1/files?filename=zero.md')
            .set(as)
            .set('Content-Type', 'text/markdown');
          req.on('response', resolve);
          req.on('error', reject);
          req.write(Buffer.alloc(0));
          void req.end();
        }),
      ];
      for (const pending of attempts) {
        const res = await pending;
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
        expect(res.body.error.message).toMatch(/empty/);
      }
      const rows = await platform.pool.query<{ files: number; runs: number }>(
        `select (select count(*)::int from files where tenant_id = $1) as files,
                (select count(*)::int from runs where tenant_id = $1) as runs`,
        [tenantId],
      );
      expect(rows.rows[0]).toEqual({ files: 0, runs: 0 });
      expect(await tenantBlobs(platform, tenantId)).toEqual([]);
    });

    it.each([
      [
        'corrupt.pdf',
        async () =>
          Buffer.concat([(await makePdf(PDF_PAGES)).subarray(0, 300), Buffer.alloc(500, 0x41)]),
        'application/pdf',
        'invalid_pdf',
      ],
      ['blank.md', async () => Buffer.from('\n\n   \n\t\n'), 'text/markdown', 'no_text'],
      ['broken.json', async () => Buffer.from('{"a": [1, 2'), 'application/json', 'invalid_json'],
    ])('fails %s with a clear error and no chunks', async (filename, body, contentType, code) => {
      const res = await uploadRaw(filename, await body(), contentType).expect(201);
      const file = await settled(res.body.id);
      expect(file.status).toBe('failed');
      expect(file.error?.code).toBe(code);
      expect(file.error?.message.length).toBeGreaterThan(10);
      expect(file.chunk_count).toBe(0);
      expect(await storedChunks(file.id)).toBe(0);
      const run = await api().get(`/v1/runs/${file.run_id}`).set(auth()).expect(200);
      expect(run.body).toMatchObject({ kind: 'ingest', status: 'failed', error: { code } });
    });

    // Sniffed at upload (magic bytes, UTF-8 without NUL): refused before anything is kept.
    it.each([
      ['text-labelled.pdf', () => Buffer.from('this is plain text, not a PDF'), 'application/pdf'],
      ['image.txt', () => binaryBytes(), 'text/plain'],
    ])('refuses %s at upload with 415 and keeps nothing', async (filename, body, contentType) => {
      const before = await counts();
      const res = await uploadRaw(filename, body(), contentType).expect(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
      expect(await counts()).toEqual(before);
    });

    it('deleting a file mid-ingestion cancels it and leaves no chunks or blob', async () => {
      const res = await uploadRaw('cancel-me.txt', longText(1500, 3), 'text/plain').expect(201);
      const { id, run_id: runId } = res.body as FileJson;
      // Wait until chunks are being stored.
      const deadline = Date.now() + 30_000;
      while ((await storedChunks(id)) === 0) {
        if (Date.now() > deadline) throw new Error('embedding never started');
        await new Promise((r) => setTimeout(r, 20));
      }
      await api()
        .delete(`/v1/files/${id}`)
        .set(auth())
        .expect(200, { id, object: 'file', deleted: true });
      await api().get(`/v1/files/${id}`).set(auth()).expect(404);
      const run = await api().get(`/v1/runs/${runId}/wait?timeout=30`).set(auth());
      if (run.status !== 200) {
        const log = await platform.pool.query(
          'select seq, type, data from run_events where run_id = $1 order by seq',
          [runId],
        );
        throw new Error(
          `run did not finish: ${JSON.stringify(run.body)} ${JSON.stringify(log.rows.slice(-5))}`,
        );
      }
      expect(run.body.status).toBe('cancelled');
      expect(await storedChunks(id)).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(await storedChunks(id)).toBe(0);
      const blob = await platform.pool.query('select 1 from files where id = $1', [id]);
      expect(blob.rowCount).toBe(0);
    });

    it('deletes a ready file with its chunks and original', async () => {
      const res = await uploadRaw('gone.md', TEXT_FILES['guide.md'].body, 'text/markdown').expect(
        201,
      );
      const file = await settled(res.body.id);
      expect(await storedChunks(file.id)).toBeGreaterThan(0);
      await api().delete(`/v1/files/${file.id}`).set(auth()).expect(200);
      expect(await storedChunks(file.id)).toBe(0);
      await api().get(`/v1/files/${file.id}/content`).set(auth()).expect(404);
    });

    it('lets a chat turn answer from an uploaded file through the search tool', async () => {
      const res = await uploadMultipart(
        'aquarium.md',
        TEXT_FILES['guide.md'].body,
        'text/markdown',
      ).expect(201);
      await settled(res.body.id);
      fake.enqueue(
        {
          kind: 'toolCalls',
          calls: [
            { name: 'search', arguments: { query: `what is a ${WORDS.md}?`, types: ['chunks'] } },
          ],
        },
        { kind: 'text', text: 'A small tropical fish used in research (aquarium.md).' },
      );
      const session = await api().post('/v1/sessions').set(auth()).send({}).expect(201);
      const turn = await api()
        .post(`/v1/sessions/${session.body.id}/messages`)
        .set(auth())
        .send({ content: `What is a ${WORDS.md}?`, model: 'fake-model' })
        .expect(202);
      const run = await api()
        .get(`/v1/runs/${turn.body.run.id}/wait?timeout=60`)
        .set(auth())
        .expect(200);
      expect(run.body.status).toBe('succeeded');
      const calls = fake.chatRequests();
      expect(calls).toHaveLength(2);
      const offered = (calls[0].body as { tools: { function: { name: string } }[] }).tools.map(
        (t) => t.function.name,
      );
      expect(offered).toContain('search');
      const messages = (calls[1].body as { messages: { role: string; content: string }[] })
        .messages;
      const toolResult = messages.find((m) => m.role === 'tool');
      expect(toolResult?.content).toContain(WORDS.md);
      const parsed = JSON.parse(toolResult!.content) as {
        hits: { source: { filename: string } }[];
      };
      // guide.md, uploaded earlier in this suite, has the same text: either may rank first.
      expect(parsed.hits.map((h) => h.source.filename)).toContain('aquarium.md');
    });

    it('keeps files to their tenant', async () => {
      const res = await uploadRaw(
        'mine.txt',
        'secret tenant text about walruses',
        'text/plain',
      ).expect(201);
      await settled(res.body.id);
      const tenant = randomUUID();
      await platform.pool.query(`insert into tenants (id, name) values ($1, 'other')`, [tenant]);
      const { key } = await createApiKey(platform.pool, tenant, {
        name: 'other',
        scopes: ['chat', 'files'],
      });
      const other = { Authorization: `Bearer ${key}` };
      await api().get(`/v1/files/${res.body.id}`).set(other).expect(404);
      const search = await api().get('/v1/search?q=walruses').set(other).expect(200);
      expect(search.body.data).toEqual([]);
      const mine = await api().get('/v1/search?q=walruses').set(auth()).expect(200);
      expect(mine.body.data[0]).toMatchObject({ type: 'chunks', source: { filename: 'mine.txt' } });
    });
  });
}

filesSuite('files on the filesystem blob store', () => ({}));
filesSuite('files on the S3 blob store (s3rver)', () => s3TestEnv(`files-test-${randomUUID()}/`));
