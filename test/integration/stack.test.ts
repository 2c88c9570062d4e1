import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { ensureSearchAttributes, REVERIE_SEARCH_ATTRIBUTES, startStack } from '../../src/stack';
import { PROJECT_ROOT, testStackEnv } from '../setup/stack-env';

const env = testStackEnv();

describe('embedded stack', () => {
  it('serves Postgres 16 with pgvector in database reverie', async () => {
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    try {
      await client.query('create extension if not exists vector');
      const { rows } = await client.query<{ distance: number; db: string; version: number }>(
        `select '[1,2,3]'::vector <-> '[1,2,4]'::vector as distance,
                current_database() as db,
                current_setting('server_version_num')::int as version`,
      );
      expect(rows[0].distance).toBe(1);
      expect(rows[0].db).toBe('reverie');
      expect(Math.floor(rows[0].version / 10_000)).toBeGreaterThanOrEqual(16);
    } finally {
      await client.end();
    }
  });

  it('serves Temporal with the reverie search attributes registered', async () => {
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      // Idempotent: registering again is a no-op.
      await ensureSearchAttributes(connection, 'default');
      const listed = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      for (const name of REVERIE_SEARCH_ATTRIBUTES) {
        expect(listed.customAttributes).toHaveProperty(name);
      }
    } finally {
      await connection.close();
    }
  });

  it('only waits for services it is given, and stopping it leaves them running', async () => {
    const stack = await startStack({
      root: PROJECT_ROOT,
      mode: 'test',
      temporalAddress: env.TEMPORAL_ADDRESS,
      databaseUrl: env.DATABASE_URL,
      log: () => undefined,
    });
    expect(stack.processGroups).toEqual([]);
    expect(stack.temporalAddress).toBe(env.TEMPORAL_ADDRESS);
    expect(stack.databaseUrl).toBe(env.DATABASE_URL);
    await stack.stop();
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    await client.end();
  });

  const linuxOnly = process.platform === 'linux' ? it : it.skip;
  linuxOnly('takes its servers down when its node process is killed with -9', async () => {
    const script = `require('./src/stack').startStack({ root: process.cwd(), mode: 'test', log: () => {} })
      .then((s) => { console.log(JSON.stringify(s.processGroups)); setInterval(() => {}, 1000); })
      .catch((e) => { console.error(e); process.exit(1); });`;
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', script], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const groups = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
      });
      child.once('exit', (code) => reject(new Error(`stack process exited early (${code})`)));
    });
    expect(groups).toHaveLength(2);
    expect(groups.every((g) => liveMembers(g).length > 0)).toBe(true);

    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && groups.some((g) => liveMembers(g).length > 0)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(groups.flatMap(liveMembers)).toEqual([]);
  });
});

/** Pids in process group `pgid` that are still running (zombies waiting for init do not count). */
function liveMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after "(comm)": state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(entry));
  }
  return pids;
}
