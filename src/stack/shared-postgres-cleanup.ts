import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** In each shared Postgres folder: the project root it serves, so a folder whose checkout is gone can be told. */
export const PROJECT_FILE = 'project';

const SHARED_NAME = /^reverie-pg-[0-9a-f]{16}$/;

/**
 * Remove the shared Postgres folders (`<parent>/reverie-pg-<hash>`, see
 * sharedPostgresDir) of checkouts that no longer exist: each holds a copy of
 * Postgres (~35 MB) and data nothing can reach any more, and a CI machine
 * would gather one per clean clone. A folder is kept when it is not ours, does
 * not name its checkout (made before this file existed), or has a live server.
 * @returns the folders removed
 */
export async function removeOrphanedSharedDirs(parent: string): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => SHARED_NAME.test(n))) {
    const dir = path.join(parent, name);
    const found = await lstat(dir).catch(() => undefined);
    if (!found?.isDirectory() || found.uid !== process.getuid?.()) continue;
    const project = await readFile(path.join(dir, PROJECT_FILE), 'utf8').catch(() => undefined);
    if (!project || (await lstat(project.trim()).catch(() => undefined))) continue;
    if (await hasLiveServer(path.join(dir, 'pg'))) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Whether a data directory under `pgDir` belongs to a running postmaster. */
async function hasLiveServer(pgDir: string): Promise<boolean> {
  for (const data of await readdir(pgDir).catch(() => [] as string[])) {
    const pidFile = await readFile(path.join(pgDir, data, 'postmaster.pid'), 'utf8').catch(
      () => undefined,
    );
    const pid = Number(pidFile?.split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return true;
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, only not ours to signal (Postgres runs as another user).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
