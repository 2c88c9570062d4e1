import { execFile } from 'node:child_process';
import { chown, lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { isAlive } from './dir-lock';
import { pickPort } from './free-port';
import type { StackLayout } from './layout';
import type { ToolPaths } from './provision';
import { retryUntil } from './retry-until';
import { postgresRunAsUser, runAsCommand, type RunAsUser } from './run-as';
import { startSupervised, type SupervisedProcess } from './supervised-process';
import { placePostgres } from './postgres-placement';
import { instanceName, isStaleTestFile } from './test-instances';

const execFileAsync = promisify(execFile);

/** The database reverie uses; created on first start. */
export const DATABASE_NAME = 'reverie';
/** Superuser created by initdb; trust auth, so no password. */
export const SUPERUSER = 'postgres';

const READY_TIMEOUT_MS = 30_000;
/** Socket dirs are `<tmp>/reverie-pg-<pid>-XXXXXX`; the pid lets a later start remove leftovers. */
const SOCKET_DIR_PREFIX = 'reverie-pg-';

/** Options for {@link startPostgres}. */
export interface PostgresOptions {
  tools: ToolPaths;
  layout: StackLayout;
  /** `dev` keeps its data in `.reverie/pg/dev`; `test` uses a throwaway `.reverie/pg/test-<pid>`. */
  mode: 'dev' | 'test';
  /** Port to use when free (dev); otherwise any free port. */
  preferredPort?: number;
  log: (line: string) => void;
}

/** A Postgres server we started. */
export interface RunningPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/reverie` */
  databaseUrl: string;
  process: SupervisedProcess;
  /** Fast shutdown; a test instance also deletes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** initdb arguments: superuser `postgres`, trust auth, C locale (no OS locale needed). */
export function initdbArgs(dataDir: string): string[] {
  return [
    '-D',
    dataDir,
    '-U',
    SUPERUSER,
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ];
}

/**
 * postgres arguments. TCP on 127.0.0.1 only; the unix socket goes to a short
 * temp dir because socket paths must stay under 107 characters. Test
 * instances trade durability for speed.
 */
export function postgresArgs(options: {
  dataDir: string;
  port: number;
  socketDir: string;
  durable: boolean;
}): string[] {
  const args = [
    '-D',
    options.dataDir,
    '-p',
    String(options.port),
    '-h',
    '127.0.0.1',
    '-k',
    options.socketDir,
  ];
  if (!options.durable) {
    args.push(
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    );
  }
  return args;
}

/**
 * Initialise (once) and start a Postgres 16 server with pgvector, wait until
 * it accepts connections, and make sure database `reverie` exists with the
 * `vector` extension. Runs as an unprivileged user when we are root.
 * @throws Error with the tail of the server log when it does not come up.
 */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const { layout, tools, mode } = options;
  const runAs = await postgresRunAsUser();
  const name = instanceName(mode);
  const logFile = path.join(layout.logsDir, `postgres-${name}.log`);
  await mkdir(layout.logsDir, { recursive: true });
  // Binaries and data move out of the project when the Postgres user cannot enter it.
  const placement = await placePostgres({
    layout,
    pgBinDir: tools.pgBinDir,
    runAs,
    log: options.log,
  });
  const { pgBinDir } = placement;
  const dataDir = path.join(placement.pgDir, name);
  if (placement.shared) await removeStaleTestDataDirs(placement.pgDir);

  await checkBinariesReachable(pgBinDir, runAs);
  if (mode === 'test') await rm(dataDir, { recursive: true, force: true });
  await initdbOnce(pgBinDir, dataDir, runAs, options.log);

  await removeStaleSocketDirs();
  const socketDir = await mkdtemp(path.join(os.tmpdir(), `${SOCKET_DIR_PREFIX}${process.pid}-`));
  if (runAs) await chown(socketDir, runAs.uid, runAs.gid);
  const port = await pickPort(options.preferredPort);
  const server = runAsCommand(
    runAs,
    path.join(pgBinDir, 'postgres'),
    postgresArgs({ dataDir, port, socketDir, durable: mode === 'dev' }),
  );
  const proc = await startSupervised({
    name: 'postgres',
    ...server,
    logFile,
    // SIGINT is Postgres' "fast" shutdown; SIGTERM would wait for every client to disconnect.
    stopSignal: 'SIGINT',
    graceMs: 15_000,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await proc.stop();
      await rm(socketDir, { recursive: true, force: true });
      if (mode === 'test') {
        await rm(dataDir, { recursive: true, force: true });
        await rm(logFile, { force: true });
      }
    })());

  const adminUrl = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  try {
    await waitForPostgres(adminUrl, {
      stopIf: () => (proc.hasExited() ? new Error('postgres exited during start-up') : undefined),
    });
    await ensureDatabase(adminUrl, DATABASE_NAME);
  } catch (err) {
    const tail = await proc.logTail(2000);
    await stop();
    throw new Error(
      `Postgres did not start (${(err as Error).message}); log ${logFile}:\n${tail}`,
      { cause: err },
    );
  }
  return {
    databaseUrl: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE_NAME}`,
    process: proc,
    stop,
  };
}

/**
 * Wait until the server at `url` answers `select 1`.
 * @throws the last connection error after `timeoutMs` (default 30 s).
 */
export async function waitForPostgres(
  url: string,
  options: { timeoutMs?: number; stopIf?: () => Error | undefined } = {},
): Promise<void> {
  await retryUntil(() => withClient(url, async (client) => void (await client.query('select 1'))), {
    timeoutMs: options.timeoutMs ?? READY_TIMEOUT_MS,
    intervalMs: 100,
    stopIf: options.stopIf,
  });
}

/** Create database `name` (if missing) and the `vector` extension in it. */
async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    const found = await client.query('select 1 from pg_database where datname = $1::text', [name]);
    // Identifier from our own constant, never from input.
    if (found.rowCount === 0) await client.query(`create database "${name}"`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await withClient(url.toString(), (client) =>
    client.query('create extension if not exists vector').then(() => undefined),
  );
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A failed connect can still emit 'error' later; never let it crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** initdb into a temp dir then rename, so a crash never leaves a half-made data dir behind. */
async function initdbOnce(
  pgBinDir: string,
  dataDir: string,
  runAs: RunAsUser | undefined,
  log: (line: string) => void,
): Promise<void> {
  if (await exists(path.join(dataDir, 'PG_VERSION'))) {
    if (runAs) await chownTreeIfNeeded(dataDir, runAs);
    return;
  }
  // Test instances are initialised on every run; only the one-time dev init is news.
  if (!path.basename(dataDir).startsWith('test-')) log(`initialising Postgres data in ${dataDir}`);
  const staging = `${dataDir}.initdb-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  if (runAs) await chown(staging, runAs.uid, runAs.gid);
  const initdb = runAsCommand(runAs, path.join(pgBinDir, 'initdb'), initdbArgs(staging));
  try {
    await execFileAsync(initdb.command, initdb.args);
  } catch (err) {
    const { stderr, message } = err as { stderr?: string; message: string };
    throw new Error(`initdb failed: ${stderr?.trim() || message}`, { cause: err });
  }
  await rm(dataDir, { recursive: true, force: true });
  await rename(staging, dataDir);
}

/** Running as another user, the binaries must be readable by it; say so plainly if not. */
async function checkBinariesReachable(
  pgBinDir: string,
  runAs: RunAsUser | undefined,
): Promise<void> {
  if (!runAs) return;
  const check = runAsCommand(runAs, path.join(pgBinDir, 'postgres'), ['--version']);
  try {
    await execFileAsync(check.command, check.args);
  } catch (err) {
    throw new Error(
      `user ${runAs.user} cannot run ${pgBinDir}/postgres; make the project folder and its parents readable by others (chmod o+rx)`,
      { cause: err },
    );
  }
}

/** Test data dirs that dead processes left in a shared placement (the project's are swept by start-up). */
async function removeStaleTestDataDirs(pgDir: string): Promise<void> {
  const names = await readdir(pgDir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => isStaleTestFile(n))
      .map((n) => rm(path.join(pgDir, n), { recursive: true, force: true })),
  );
}

/** Socket dirs of processes killed before they could clean up (kill -9). */
async function removeStaleSocketDirs(): Promise<void> {
  const tmp = os.tmpdir();
  const names = await readdir(tmp).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => {
        const match = new RegExp(`^${SOCKET_DIR_PREFIX}(\\d+)-`).exec(n);
        return match !== null && !isAlive(Number(match[1]));
      })
      .map((n) => rm(path.join(tmp, n), { recursive: true, force: true })),
  );
}

async function chownTreeIfNeeded(dir: string, runAs: RunAsUser): Promise<void> {
  if ((await stat(dir)).uid === runAs.uid) return;
  const walk = async (p: string): Promise<void> => {
    await chown(p, runAs.uid, runAs.gid);
    if ((await lstat(p)).isDirectory()) {
      for (const entry of await readdir(p)) await walk(path.join(p, entry));
    }
  };
  await walk(dir);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
