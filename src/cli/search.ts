import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { connectApi, describeError } from './api-client';

const USAGE = `usage: reverie search [--types chunks,memories,moments,messages] [--limit N] [--user USER_ID] [--json] QUERY...

Hybrid search (vectors + full text) over uploaded files, memories, moments and messages.
`;

interface Hit {
  type: string;
  id: string;
  score: number;
  text: string;
  source: Record<string, unknown>;
}

/** `reverie search QUERY`; resolves to the exit code. */
export async function runSearch(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      types: { type: 'string' },
      limit: { type: 'string', default: '10' },
      user: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const q = positionals.join(' ').trim();
  if (values.help || !q) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const client = await connectApi(config);
  const query = new URLSearchParams({ q, limit: values.limit ?? '10' });
  if (values.types) query.set('types', values.types);
  if (values.user) query.set('user_id', values.user);
  const res = await fetch(`${client.url}/v1/search?${query.toString()}`, {
    headers: client.headers,
  });
  if (!res.ok) {
    process.stderr.write(`reverie search: ${await describeError(res)}\n`);
    return 1;
  }
  const body = (await res.json()) as { data: Hit[]; took_ms: number };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  if (body.data.length === 0) process.stdout.write('no results\n');
  body.data.forEach((hit, i) => {
    process.stdout.write(
      `${i + 1}. [${hit.type}] ${where(hit)}  score ${hit.score.toFixed(4)}\n   ${snippet(hit.text)}\n`,
    );
  });
  process.stdout.write(`(${body.data.length} hits in ${body.took_ms} ms)\n`);
  return 0;
}

function where(hit: Hit): string {
  const s = hit.source;
  if (hit.type === 'chunks') {
    const parts = [String(s.filename)];
    if (typeof s.page === 'number') parts.push(`page ${s.page}`);
    if (typeof s.heading === 'string') parts.push(`§ ${s.heading}`);
    parts.push(`chunk ${String(s.ordinal)}`);
    return parts.join(', ');
  }
  if (hit.type === 'messages') return `session ${String(s.session_id)} (${String(s.role)})`;
  return hit.id;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
