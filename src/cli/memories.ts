import { parseArgs } from 'node:util';
import type { Config } from '../config';

const USAGE = `usage: reverie memories <list|search|clear> --user <user id> [options]

  list    --user U [--limit N]            the user's current memories, newest first
  search  --user U [--limit N] <query>    the user's memories nearest to the query
  clear   --user U                        erase every memory of the user (history included)

options:
  --json      print the API's JSON instead of lines
  --limit N   at most N memories (default 50 for list, 10 for search)

Talks to the reverie API at REVERIE_URL (default http://127.0.0.1:8080) with
REVERIE_API_KEY as the bearer key (omit it when the API allows anonymous access).`;

interface Output {
  write(text: string): unknown;
}

interface MemoryJson {
  id: string;
  memory: string;
  score?: number;
  updated_at: string;
}

/**
 * `reverie memories list|search|clear --user U`: the memories API over HTTP,
 * so it works against any deployment, not only a local database.
 * @returns the exit code (2 for bad usage, 1 when the API refused).
 */
export async function runMemories(
  argv: string[],
  config: Config,
  io: { out: Output; err: Output; fetch?: typeof fetch } = {
    out: process.stdout,
    err: process.stderr,
  },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        user: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.err.write(`reverie memories: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (values.help || !action) {
    io.out.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const problem = !['list', 'search', 'clear'].includes(action)
    ? `unknown action "${action}"`
    : !values.user
      ? '--user is required'
      : limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)
        ? '--limit must be an integer from 1 to 100'
        : action === 'search' && rest.length === 0
          ? 'search needs a query'
          : undefined;
  if (problem) {
    io.err.write(`reverie memories: ${problem}\n${USAGE}\n`);
    return 2;
  }

  const user = values.user!;
  const base = config.client.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-User-Id': user };
  if (config.client.apiKey) headers.Authorization = `Bearer ${config.client.apiKey}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await (io.fetch ?? fetch)(`${base}/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const error = json.error as { code?: string; message?: string } | undefined;
      throw new Error(`${res.status} ${error?.code ?? ''}: ${error?.message ?? res.statusText}`);
    }
    return json;
  };

  try {
    let result: Record<string, unknown>;
    if (action === 'list') {
      result = await call(
        'GET',
        `/memories?${new URLSearchParams({ user_id: user, limit: String(limit ?? 50) }).toString()}`,
      );
    } else if (action === 'search') {
      result = await call('POST', '/memories/search', {
        query: rest.join(' '),
        user_id: user,
        limit: limit ?? 10,
      });
    } else {
      result = await call(
        'DELETE',
        `/memories?${new URLSearchParams({ user_id: user }).toString()}`,
      );
    }
    if (values.json) {
      io.out.write(`${JSON.stringify(result, null, 2)}\n`);
    } else if (action === 'clear') {
      io.out.write(`cleared ${String(result.deleted)} memories of ${user}\n`);
    } else {
      const rows = result.data as MemoryJson[];
      for (const m of rows) {
        const score = m.score === undefined ? '' : `${m.score.toFixed(3)}  `;
        io.out.write(`${m.id}  ${score}${m.memory}\n`);
      }
      if (rows.length === 0) io.err.write(`no memories for ${user}\n`);
    }
    return 0;
  } catch (err) {
    io.err.write(`reverie memories: ${(err as Error).message} (${base})\n`);
    return 1;
  }
}
