import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { connectApi, describeError } from './api-client';

const USAGE = `usage: reverie schedule show
       reverie schedule set (--interval 1h | --cron "0 3 * * *") [--catchup 10m]
       reverie schedule pause | resume

The tenant's dreaming schedule (a Temporal Schedule; overlapping firings are skipped).
`;

/** `reverie schedule show|set|pause|resume`; resolves to the exit code. */
export async function runSchedule(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      interval: { type: 'string' },
      cron: { type: 'string' },
      catchup: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const action = positionals[0];
  let change: Record<string, unknown> | undefined;
  if (action === 'set') {
    if (!values.interval && !values.cron) {
      process.stderr.write('reverie schedule set: give --interval or --cron\n');
      return 2;
    }
    change = { interval: values.interval, cron: values.cron, catchup_window: values.catchup };
  } else if (action === 'pause' || action === 'resume') {
    change = { paused: action === 'pause' };
  } else if (action !== 'show' || values.help) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const client = await connectApi(config);
  const res = await fetch(`${client.url}/v1/dreaming/schedule`, {
    method: change ? 'PUT' : 'GET',
    headers: { ...client.headers, 'Content-Type': 'application/json' },
    body: change ? JSON.stringify(change) : undefined,
  });
  if (res.status === 404) {
    process.stdout.write(
      'no dreaming schedule; create one with `reverie schedule set --interval 1h`\n',
    );
    return 1;
  }
  if (!res.ok) {
    process.stderr.write(`reverie schedule: ${await describeError(res)}\n`);
    return 1;
  }
  const s = (await res.json()) as {
    id: string;
    interval: string | null;
    cron: string | null;
    paused: boolean;
    catchup_window: string;
    next_run_times: string[];
    actions_taken: number;
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return 0;
  }
  process.stdout.write(
    `${s.id}: ${s.interval ? `every ${s.interval}` : `cron ${s.cron}`}, ${s.paused ? 'paused' : 'active'}, catch-up ${s.catchup_window}, ${s.actions_taken} runs so far\n`,
  );
  if (!s.paused && s.next_run_times[0]) process.stdout.write(`  next run ${s.next_run_times[0]}\n`);
  return 0;
}
