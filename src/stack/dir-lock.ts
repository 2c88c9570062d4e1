import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Options for {@link withDirLock}. */
export interface DirLockOptions {
  /** Give up waiting after this long. @default 600_000 */
  timeoutMs?: number;
  /** Called once if another process holds the lock, so the user knows why we wait. */
  onWait?: () => void;
}

/**
 * Run `fn` while holding a lock directory at `lockPath`. `mkdir` is atomic, so
 * of several processes only one creates it; the owner's pid is written inside
 * so a lock left by a crashed process on this host is taken over.
 * @throws Error when the lock is still held after `timeoutMs`.
 */
export async function withDirLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: DirLockOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let announced = false;
  await mkdir(path.dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockPath);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(lockPath)) {
      await rm(lockPath, { recursive: true, force: true });
      continue;
    }
    if (!announced) options.onWait?.();
    announced = true;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for the lock ${lockPath}; remove it if no other reverie process is running`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    await writeFile(path.join(lockPath, 'owner'), `${process.pid}@${os.hostname()}`);
    return await fn();
  } finally {
    await rm(lockPath, { recursive: true, force: true });
  }
}

async function isStale(lockPath: string): Promise<boolean> {
  let owner: string;
  try {
    owner = await readFile(path.join(lockPath, 'owner'), 'utf8');
  } catch {
    // The owner writes its pid right after mkdir; a missing file is a lock in the making.
    return false;
  }
  const [pid, host] = owner.split('@');
  // A pid from another host (shared folder) tells us nothing; wait for the timeout instead.
  if (host !== os.hostname()) return false;
  return !isAlive(Number(pid));
}

/** Whether a process with this pid exists (EPERM means it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
