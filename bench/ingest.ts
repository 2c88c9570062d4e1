/**
 * `ingest`: ingestion throughput (chunks/s) of reverie — upload → Temporal
 * workflow → parse, chunk, embed (local embedder), store — against a plain
 * script doing the same parse + chunk + embed + insert in this process
 * without Temporal, on the same database, in the same run. Then search
 * latency (GET /v1/search, hybrid) over a seeded table of chunks.
 *
 * Workloads: a text corpus in 1 MB files (quick 1 MB, full 20 MB) and
 * generated multi-page PDFs (quick 5, full 50); search over 5k (quick) or
 * 100k (full) chunks.
 */
import { randomUUID } from 'node:crypto';
import { createApiKey } from '../src/db/api-keys';
import { insertChunks } from '../src/db/files';
import { LocalEmbedder, toVectorLiteral } from '../src/embeddings';
import { chunkDocument } from '../src/files/chunker';
import { parseDocument } from '../src/files/parse';
import type { FileFormat } from '../src/files/formats';
import { createLogger } from '../src/logger';
import { startApi } from '../src/server';
import { startWorker } from '../src/worker';
import { makePdf } from '../test/fixtures/files/make-fixtures';
import { embeddingText } from '../activities/files.activities';
import { PROFILES, progress, startBench, TENANT_ID, type Bench, type Row } from './harness';
import { percentile, seededRandom, spread } from './stats';

interface Doc {
  name: string;
  format: FileFormat;
  contentType: string;
  data: Buffer;
}

const VOCABULARY = (
  'river harbour signal copper meadow lantern orbit engine violet stone quiet alpha ledger archive ' +
  'canyon glacier compass beacon thunder willow falcon prism cobalt ember tundra delta vertex quartz'
).split(' ');

function corpusText(bytes: number, seed: number): string {
  const random = seededRandom(seed);
  const out: string[] = [];
  let size = 0;
  let section = 0;
  while (size < bytes) {
    const paragraph: string[] = [];
    if (out.length % 12 === 0) paragraph.push(`## Section ${++section}\n\n`);
    for (let s = 0; s < 5; s++) {
      const n = 8 + Math.floor(random() * 12);
      const words = Array.from(
        { length: n },
        () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
      );
      paragraph.push(`${words.join(' ')}. `);
    }
    const text = paragraph.join('');
    out.push(text);
    size += text.length + 2;
  }
  return out.join('\n\n');
}

async function workloads(quick: boolean): Promise<{ text: Doc[]; pdfs: Doc[] }> {
  const mb = quick ? 1 : 20;
  const text = Array.from({ length: mb }, (_, i) => ({
    name: `corpus-${i}.md`,
    format: 'md' as const,
    contentType: 'text/markdown',
    data: Buffer.from(corpusText(1024 * 1024, i + 1)),
  }));
  const pdfs: Doc[] = [];
  for (let i = 0; i < (quick ? 5 : 50); i++) {
    const pages = Array.from({ length: 5 }, (_, p) => corpusText(2500, 1000 + i * 10 + p));
    pdfs.push({
      name: `report-${i}.pdf`,
      format: 'pdf',
      contentType: 'application/pdf',
      data: await makePdf(pages),
    });
  }
  return { text, pdfs };
}

const CONCURRENCY = 4;

async function pooled<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Everything through reverie: upload, workflow, wait for ready. @returns chunks stored and seconds. */
async function viaReverie(
  url: string,
  key: string,
  docs: Doc[],
): Promise<{ chunks: number; seconds: number }> {
  const headers = { Authorization: `Bearer ${key}` };
  let chunks = 0;
  const ids: string[] = [];
  const started = performance.now();
  await pooled(docs, async (doc) => {
    const res = await fetch(`${url}/v1/files?filename=${encodeURIComponent(doc.name)}`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': doc.contentType },
      body: doc.data,
    });
    if (res.status !== 201)
      throw new Error(`upload ${doc.name}: ${res.status} ${await res.text()}`);
    const file = (await res.json()) as { id: string; run_id: string };
    ids.push(file.id);
    const run = await fetch(`${url}/v1/runs/${file.run_id}/wait?timeout=600`, { headers });
    if (((await run.json()) as { status: string }).status !== 'succeeded')
      throw new Error(`ingest of ${doc.name} failed`);
    const done = (await (await fetch(`${url}/v1/files/${file.id}`, { headers })).json()) as {
      chunk_count: number;
    };
    chunks += done.chunk_count;
  });
  const seconds = (performance.now() - started) / 1000;
  for (const id of ids) await fetch(`${url}/v1/files/${id}`, { method: 'DELETE', headers });
  return { chunks, seconds };
}

/** The same work as a plain script: parse, chunk, embed, insert; no API, no Temporal. */
async function plainScript(
  bench: Bench,
  docs: Doc[],
  batch: number,
): Promise<{ chunks: number; seconds: number }> {
  const embedder = new LocalEmbedder(bench.config.embeddingDim);
  const { chunkTokens, overlapTokens } = bench.config.ingest;
  const ids: string[] = [];
  let chunks = 0;
  const started = performance.now();
  await pooled(docs, async (doc) => {
    const id = randomUUID();
    ids.push(id);
    await bench.pool.query(
      `insert into files (id, tenant_id, filename, content_type, size_bytes, blob_key, status)
       values ($1, $2, $3, $4, $5, 'baseline', 'processing')`,
      [id, TENANT_ID, doc.name, doc.contentType, doc.data.length],
    );
    const planned = chunkDocument(await parseDocument(doc.format, doc.data), {
      maxTokens: chunkTokens,
      overlapTokens,
    });
    for (let i = 0; i < planned.length; i += batch) {
      const part = planned.slice(i, i + batch);
      const vectors = await embedder.embed(part.map((c) => embeddingText(c)));
      await insertChunks(
        bench.pool,
        TENANT_ID,
        id,
        part.map((c, j) => ({ ...c, embedding: toVectorLiteral(vectors[j]) })),
      );
    }
    await bench.pool.query(`update files set status = 'ready', chunk_count = $2 where id = $1`, [
      id,
      planned.length,
    ]);
    chunks += planned.length;
  });
  const seconds = (performance.now() - started) / 1000;
  await bench.pool.query('delete from files where id = any($1::uuid[])', [ids]);
  return { chunks, seconds };
}

/** Seed `count` chunks (random text, local embeddings) in a tenant of their own; returns its key. */
export async function seedSearchCorpus(
  bench: Bench,
  count: number,
): Promise<{ tenantId: string; key: string }> {
  const tenantId = randomUUID();
  await bench.pool.query(`insert into tenants (id, name) values ($1, 'bench-search')`, [tenantId]);
  const { key } = await createApiKey(bench.pool, tenantId, { name: 'bench-search' });
  const embedder = new LocalEmbedder(bench.config.embeddingDim);
  const random = seededRandom(99);
  const perFile = 1000;
  for (let f = 0; f * perFile < count; f++) {
    const fileId = randomUUID();
    await bench.pool.query(
      `insert into files (id, tenant_id, filename, content_type, size_bytes, blob_key, status)
       values ($1, $2, $3, 'text/plain', 0, 'seed', 'ready')`,
      [fileId, tenantId, `seed-${f}.txt`],
    );
    const rows = Array.from({ length: Math.min(perFile, count - f * perFile) }, (_, i) => {
      const words = Array.from(
        { length: 60 },
        () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
      );
      return {
        ordinal: i,
        content: `${words.join(' ')}.`,
        heading: null,
        tokenCount: 60,
        startOffset: 0,
        endOffset: 0,
        page: null,
      };
    });
    const vectors = await embedder.embed(rows.map((r) => r.content));
    for (let i = 0; i < rows.length; i += 500) {
      await insertChunks(
        bench.pool,
        tenantId,
        fileId,
        rows
          .slice(i, i + 500)
          .map((r, j) => ({ ...r, embedding: toVectorLiteral(vectors[i + j]) })),
      );
    }
    if ((f + 1) % 10 === 0) progress(`ingest: seeded ${(f + 1) * perFile} chunks`);
  }
  // What autovacuum does within a minute (and an ingestion of a large file at once):
  // the searches measure the steady state, not a planner without statistics.
  await bench.pool.query('analyze chunks, files');
  return { tenantId, key };
}

/** The scenario as the bench harness runs it. */
export async function ingest(bench: Bench): Promise<Row[]> {
  const quick = bench.profile.name === 'quick';
  // Its own worker and API: the local embedder, uploads up to 100 MB.
  const config = {
    ...bench.config,
    embeddings: { ...bench.config.embeddings, provider: 'local' as const },
    temporal: { ...bench.config.temporal, taskQueue: `bench-ingest-${randomUUID()}` },
    maxUploadBytes: 100 * 1024 * 1024,
  };
  const log = createLogger(config.logLevel);
  const worker = await startWorker(config, log);
  const api = await startApi(config, log);
  const rows: Row[] = [];
  try {
    const { text, pdfs } = await workloads(quick);
    const reps = quick ? 2 : bench.profile.reps;
    for (const [label, docs] of [
      [`text ${text.length} MB`, text],
      [`${pdfs.length} PDFs`, pdfs],
    ] as const) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        const sides = rep % 2 === 0 ? ['reverie', 'plain'] : ['plain', 'reverie'];
        for (const side of sides) {
          const r =
            side === 'reverie'
              ? await viaReverie(api.url, bench.apiKey, [...docs])
              : await plainScript(bench, [...docs], config.ingest.embedBatch);
          (side === 'reverie' ? ours : theirs).push(r.chunks / r.seconds);
          progress(
            `ingest ${label} rep ${rep + 1}/${reps} ${side}: ${r.chunks} chunks in ${r.seconds.toFixed(2)} s`,
          );
        }
      }
      const rate = spread(ours);
      const base = spread(theirs).median;
      rows.push({
        scenario: 'ingest',
        metric: `${label} chunks/s`,
        unit: '1/s',
        reverie: rate,
        baseline: base,
        ratio: rate.median / base,
        target: '≥ 0.8×',
        pass: rate.median / base >= 0.8,
      });
    }

    const count = quick ? 5_000 : 100_000;
    const seeded = await seedSearchCorpus(bench, count);
    const random = seededRandom(5);
    const latencies: number[] = [];
    const queries = quick ? 100 : 200;
    for (let i = 0; i < queries + 10; i++) {
      const q = Array.from(
        { length: 3 },
        () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
      ).join(' ');
      const t0 = performance.now();
      const res = await fetch(
        `${api.url}/v1/search?q=${encodeURIComponent(q)}&types=chunks&limit=10`,
        {
          headers: { Authorization: `Bearer ${seeded.key}` },
        },
      );
      if (!res.ok) throw new Error(`search: ${res.status}`);
      await res.json();
      if (i >= 10) latencies.push(performance.now() - t0);
    }
    rows.push({
      scenario: 'ingest',
      // min / median / max columns carry p50 / p95 / p99 here.
      metric: `search p50/p95/p99 (${count / 1000}k chunks)`,
      unit: 'ms',
      reverie: {
        min: percentile(latencies, 50),
        median: percentile(latencies, 95),
        max: percentile(latencies, 99),
      },
    });
    await bench.pool.query('delete from tenants where id = $1', [seeded.tenantId]);
  } finally {
    await api.close();
    await worker.shutdown();
  }
  return rows;
}

/** Standalone entry: `node -r tsx/cjs -e "require('./bench/ingest').run({quick: true})"`. */
export async function run(options: { quick: boolean }): Promise<Record<string, unknown>> {
  const bench = await startBench(PROFILES[options.quick ? 'quick' : 'full']);
  try {
    const rows = await ingest(bench);
    return Object.fromEntries(
      rows.map((r) => [
        `${r.metric}`,
        { reverie: r.reverie, baseline: r.baseline, ratio: r.ratio, target: r.target },
      ]),
    );
  } finally {
    await bench.close();
  }
}
