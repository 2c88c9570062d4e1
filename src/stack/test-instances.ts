import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from './dir-lock';
import type { StackLayout } from './layout';

/**
 * Instance name for files under `.reverie/`: `dev` persists across runs;
 * test instances are per process (`test-<pid>`) so concurrent jest runs in
 * the same folder never share a data dir or log.
 */
export function instanceName(mode: 'dev' | 'test', pid = process.pid): string {
  return mode === 'dev' ? 'dev' : `test-${pid}`;
}

/** Whether `fileName` belongs to a test instance of a process that no longer exists. */
export function isStaleTestFile(
  fileName: string,
  alive: (pid: number) => boolean = isAlive,
): boolean {
  const match = /^(?:postgres-|temporal-)?test-(\d+)(?:\.log|\.initdb-\d+)?$/.exec(fileName);
  return match !== null && !alive(Number(match[1]));
}

/** Delete data dirs and logs left by test runs that died without cleaning up (kill -9, crash). */
export async function removeStaleTestInstances(layout: StackLayout): Promise<void> {
  for (const dir of [layout.pgDir, layout.logsDir]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => isStaleTestFile(n))
        .map((n) => rm(path.join(dir, n), { recursive: true, force: true })),
    );
  }
}
