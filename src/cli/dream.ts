import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { connectApi, describeError } from './api-client';

const USAGE = `usage: reverie dream (--user USER_ID | --all) [--now] [--dry-run] [--budget TOKENS] [--json]

Start a dreaming run: the user's messages, files and memories since the last
run become moments, memories and a profile. --all dreams every user of the
tenant with new activity.
  --now       wait for the run to finish and print what it changed
  --dry-run   propose the changes without applying them
`;

interface RunJson {
  id: string;
  status: string;
  usage: { model_calls: number; total_tokens: number };
  error: { code: string; message: string } | null;
  workflow_id: string;
  temporal_url: string | null;
}

/** `reverie dream`; resolves to the exit code. */
export async function runDream(argv: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: 'string' },
      all: { type: 'boolean' },
      now: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      budget: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || (!values.user && !values.all) || (values.user && values.all)) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const client = await connectApi(config);
  const body: Record<string, unknown> = { dry_run: values['dry-run'] ?? false };
  if (values.user) body.user_id = values.user;
  if (values.budget) body.token_budget = Number(values.budget);
  const res = await fetch(`${client.url}/v1/dreaming/runs`, {
    method: 'POST',
    headers: { ...client.headers, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) {
    process.stderr.write(`reverie dream: ${await describeError(res)}\n`);
    return 1;
  }
  let run = (await res.json()) as RunJson;
  if (!values.now) {
    process.stdout.write(
      values.json
        ? `${JSON.stringify(run)}\n`
        : `started dreaming run ${run.id} (${run.workflow_id})\n`,
    );
    return 0;
  }
  for (;;) {
    const wait = await fetch(`${client.url}/v1/runs/${run.id}/wait?timeout=60`, {
      headers: client.headers,
    });
    if (wait.status === 408) continue;
    if (!wait.ok) {
      process.stderr.write(`reverie dream: ${await describeError(wait)}\n`);
      return 1;
    }
    run = (await wait.json()) as RunJson;
    break;
  }
  const changes = await fetch(`${client.url}/v1/dreaming/runs/${run.id}/changes?limit=1000`, {
    headers: client.headers,
  });
  const list = changes.ok
    ? ((await changes.json()) as { data: { kind: string; action: string }[] }).data
    : [];
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ run, changes: list })}\n`);
  } else {
    const counts = new Map<string, number>();
    for (const c of list)
      counts.set(`${c.kind} ${c.action}`, (counts.get(`${c.kind} ${c.action}`) ?? 0) + 1);
    process.stdout.write(
      `dreaming run ${run.id}: ${run.status}${run.error ? ` (${run.error.code}: ${run.error.message})` : ''}\n`,
    );
    process.stdout.write(
      `  model calls ${run.usage.model_calls}, tokens ${run.usage.total_tokens}\n`,
    );
    for (const [what, n] of [...counts.entries()].sort()) process.stdout.write(`  ${what}: ${n}\n`);
    if (run.temporal_url) process.stdout.write(`  ${run.temporal_url}\n`);
  }
  return run.status === 'succeeded' ? 0 : 1;
}
