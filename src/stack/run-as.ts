import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { StackPrerequisiteError, DOCKER_ALTERNATIVE } from './prerequisites';

const execFileAsync = promisify(execFile);

/** The unprivileged account Postgres runs as when we are root. */
export interface RunAsUser {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
}

/** Preferred account; a dedicated one is created only if `nobody` is missing. */
const CANDIDATES = ['nobody', 'reverie'] as const;

/**
 * Postgres refuses to run as root. When we are root (containers, CI), return
 * an unprivileged account to run it as; otherwise `undefined` (run as
 * ourselves).
 * @throws StackPrerequisiteError when no such account exists and none can be
 * created, or `setpriv` (util-linux) is missing.
 */
export async function postgresRunAsUser(): Promise<RunAsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  if (!(await succeeds('setpriv', ['--version']))) {
    throw new StackPrerequisiteError(
      `Running as root, the embedded Postgres needs setpriv (util-linux) to drop privileges; install util-linux, run as a normal user, ${DOCKER_ALTERNATIVE}.`,
    );
  }
  for (const user of CANDIDATES) {
    const found = await lookup(user);
    if (found) return found;
  }
  await succeeds('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    'reverie',
  ]);
  const created = await lookup('reverie');
  if (created) return created;
  throw new StackPrerequisiteError(
    `Running as root, the embedded Postgres needs an unprivileged user (nobody) and useradd could not create one; run as a normal user, ${DOCKER_ALTERNATIVE}.`,
  );
}

/** `command args` prefixed so it runs as `user` (unchanged when `user` is undefined). */
export function runAsCommand(
  user: RunAsUser | undefined,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  if (!user) return { command, args: [...args] };
  // setpriv execs in place: the server keeps the pid and process group we watch.
  return {
    command: 'setpriv',
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', command, ...args],
  };
}

async function lookup(user: string): Promise<RunAsUser | undefined> {
  const [uid, gid] = await Promise.all([output('id', ['-u', user]), output('id', ['-g', user])]);
  if (uid === undefined || gid === undefined) return undefined;
  return { user, uid: Number(uid), gid: Number(gid) };
}

function output(command: string, args: string[]): Promise<string | undefined> {
  return execFileAsync(command, args).then(
    ({ stdout }) => stdout.trim(),
    () => undefined,
  );
}

async function succeeds(command: string, args: string[]): Promise<boolean> {
  return (await output(command, args)) !== undefined;
}
