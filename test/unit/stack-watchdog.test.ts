import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../../src/stack/dir-lock';
import { startSupervised, watchdogArgs } from '../../src/stack/supervised-process';

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('watchdog', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reverie-watchdog-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('passes the server exit code through', async () => {
    const child = spawn(
      '/bin/sh',
      watchdogArgs(process.pid, 'SIGTERM', 1000, '/bin/sh', ['-c', 'exit 3']),
      { stdio: 'ignore' },
    );
    expect(await exitOf(child)).toBe(3);
  });

  it('stops the server when the parent process disappears', async () => {
    const parent = spawn('/bin/sh', ['-c', 'exec sleep 30'], { stdio: 'ignore' });
    const pidFile = path.join(dir, 'pid');
    const child = spawn(
      '/bin/sh',
      watchdogArgs(parent.pid!, 'SIGTERM', 1000, '/bin/sh', [
        '-c',
        `echo $$ > ${pidFile}; exec sleep 30`,
      ]),
      { detached: true, stdio: 'ignore' },
    );
    const exited = exitOf(child);
    await waitUntil(() => existsSync(pidFile), 2_000);
    const serverPid = Number(await readFile(pidFile, 'utf8'));
    parent.kill('SIGKILL');
    // The poller checks once a second.
    expect(await waitUntil(() => !isAlive(serverPid), 5_000)).toBe(true);
    await exited;
  });

  it('stop() ends the server and is idempotent', async () => {
    const proc = await startSupervised({
      name: 'sleeper',
      command: '/bin/sh',
      args: ['-c', 'echo started; exec sleep 30'],
      logFile: path.join(dir, 'log'),
      graceMs: 2_000,
    });
    expect(isAlive(proc.pgid)).toBe(true);
    expect(await waitUntil(() => existsSync(path.join(dir, 'log')), 1_000)).toBe(true);
    await waitUntil(() => false, 300); // give the echo time to land
    expect(await proc.logTail()).toMatch(/\nstarted$/);
    await Promise.all([proc.stop(), proc.stop()]);
    expect(proc.hasExited()).toBe(true);
    await proc.stop();
  });

  it('escalates to SIGKILL when the server ignores the stop signal', async () => {
    const proc = await startSupervised({
      name: 'stubborn',
      command: '/bin/sh',
      args: ['-c', "trap '' TERM; while :; do sleep 1; done"],
      logFile: path.join(dir, 'log'),
      graceMs: 500,
    });
    const started = Date.now();
    await proc.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(proc.hasExited()).toBe(true);
  });
});
