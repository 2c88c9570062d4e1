import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import type { Config } from '../config';
import { detectFormat, FORMAT_MEDIA_TYPE } from '../files/formats';
import { connectApi, describeError, type ApiClient } from './api-client';

const USAGE = `usage: reverie ingest [--user USER_ID] [--concurrency N] PATH...

Upload files (txt, md, html, json, csv, pdf) to reverie and follow their
ingestion with a progress bar per file. Uses REVERIE_URL (default
http://127.0.0.1:8080) and REVERIE_API_KEY (else a development key).
`;

/** Where a file stands, for its progress line. */
interface FileProgress {
  name: string;
  stage: string;
  done: number;
  total: number;
  /** Final word: `ready (12 chunks)`, `failed: …`. */
  outcome?: string;
  ok?: boolean;
}

/** Share of the bar each stage ends at; embedding is most of the work. */
const STAGE_END: Record<string, number> = { upload: 0.05, parse: 0.1, chunk: 0.15, embed: 1 };

/** `reverie ingest PATH...`; resolves to the exit code (1 when any file failed). */
export async function runIngest(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      user: { type: 'string' },
      concurrency: { type: 'string', default: '3' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const client = await connectApi(config);
  const files: FileProgress[] = positionals.map((p) => ({
    name: p,
    stage: 'upload',
    done: 0,
    total: 1,
  }));
  const view = new ProgressView(files, Boolean(process.stdout.isTTY));
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Number(values.concurrency) || 1) }, async () => {
    while (next < files.length) {
      const file = files[next++];
      try {
        await ingestOne(client, file, values.user, () => view.render());
      } catch (err) {
        file.outcome = `failed: ${(err as Error).message}`;
        file.ok = false;
      }
      view.render(file);
    }
  });
  await Promise.all(workers);
  view.finish();
  return files.every((f) => f.ok) ? 0 : 1;
}

async function ingestOne(
  client: ApiClient,
  file: FileProgress,
  userId: string | undefined,
  update: () => void,
): Promise<void> {
  const filename = path.basename(file.name);
  const decision = detectFormat(filename, undefined);
  if (!decision.ok) throw new Error(decision.reason);
  const size = (await stat(file.name)).size;
  const query = new URLSearchParams({ filename, ...(userId ? { user_id: userId } : {}) });
  const res = await fetch(`${client.url}/v1/files?${query.toString()}`, {
    method: 'POST',
    headers: {
      ...client.headers,
      'Content-Type': FORMAT_MEDIA_TYPE[decision.format],
      'Content-Length': String(size),
    },
    body: Readable.toWeb(createReadStream(file.name)),
    duplex: 'half',
  });
  if (res.status !== 201) throw new Error(await describeError(res));
  const { id } = (await res.json()) as { id: string };
  file.stage = 'parse';
  update();

  const events = await fetch(`${client.url}/v1/files/${id}/events`, { headers: client.headers });
  if (!events.ok || !events.body) throw new Error(await describeError(events));
  let error: string | undefined;
  const parser = createParser({
    onEvent(event) {
      const data = JSON.parse(event.data) as {
        stage?: string;
        done?: number;
        total?: number;
        message?: string;
      };
      if (event.event === 'progress' && data.stage) {
        Object.assign(file, { stage: data.stage, done: data.done ?? 0, total: data.total ?? 1 });
        update();
      } else if (event.event === 'error') {
        error = data.message;
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const piece of events.body as unknown as AsyncIterable<Uint8Array>)
    parser.feed(decoder.decode(piece, { stream: true }));

  const final = await fetch(`${client.url}/v1/files/${id}`, { headers: client.headers });
  const body = (await final.json()) as {
    status: string;
    chunk_count: number;
    error: { message: string } | null;
  };
  file.ok = body.status === 'ready';
  file.outcome = file.ok
    ? `ready (${body.chunk_count} chunks) ${id}`
    : `${body.status}: ${body.error?.message ?? error ?? 'unknown error'}`;
}

/** One line per file; redrawn in place on a terminal, printed on changes otherwise. */
class ProgressView {
  private drawn = 0;
  private readonly printed = new Map<FileProgress, string>();

  constructor(
    private readonly files: FileProgress[],
    private readonly tty: boolean,
  ) {}

  render(changed?: FileProgress): void {
    if (this.tty) {
      const lines = this.files.map((f) => line(f));
      process.stdout.write(
        `${this.drawn > 0 ? `\x1b[${this.drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`,
      );
      this.drawn = lines.length;
      return;
    }
    for (const f of changed ? [changed] : this.files) {
      const key = f.outcome ?? f.stage;
      if (this.printed.get(f) === key) continue;
      this.printed.set(f, key);
      process.stdout.write(`${line(f)}\n`);
    }
  }

  finish(): void {
    if (this.tty) this.render();
  }
}

function line(f: FileProgress): string {
  const width = 24;
  const stages = Object.keys(STAGE_END);
  const index = stages.indexOf(f.stage);
  const start = index > 0 ? STAGE_END[stages[index - 1]] : 0;
  const end = STAGE_END[f.stage] ?? 1;
  const share = f.outcome ? 1 : start + (end - start) * (f.total > 0 ? f.done / f.total : 0);
  const filled = Math.round(share * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const status = f.outcome ?? `${f.stage} ${f.done}/${f.total}`;
  return `${path.basename(f.name).padEnd(28).slice(0, 28)} ${bar} ${String(Math.round(share * 100)).padStart(3)}%  ${status}`;
}
