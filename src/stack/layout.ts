import path from 'node:path';

/**
 * Where the embedded stack keeps its files, all under the git-ignored
 * `<root>/.reverie/` folder. One function so every module agrees on the layout.
 */
export interface StackLayout {
  /** `<root>/.reverie` */
  readonly dir: string;
  /** Python venv holding the Temporal CLI, the test server and Postgres. */
  readonly venvDir: string;
  readonly venvBinDir: string;
  /** Records the installed package set; its presence makes provisioning instant. */
  readonly toolsMarker: string;
  /** Held while provisioning so concurrent processes do not install twice. */
  readonly provisionLock: string;
  /** pip output, so a failed install can show its tail. */
  readonly pipLog: string;
  /** Server logs (`postgres-<name>.log`, `temporal-<name>.log`). */
  readonly logsDir: string;
  /** Postgres data directories, one per instance name. */
  readonly pgDir: string;
  /** SQLite file that makes the dev Temporal server survive restarts. */
  readonly temporalDevDb: string;
  /** Addresses of the stack started by the jest global setup. */
  readonly testStackFile: string;
}

/** Resolve the `.reverie/` layout for a project root. */
export function stackLayout(root: string): StackLayout {
  const dir = path.join(path.resolve(root), '.reverie');
  const venvDir = path.join(dir, 'venv');
  return {
    dir,
    venvDir,
    venvBinDir: path.join(venvDir, 'bin'),
    toolsMarker: path.join(dir, 'tools.json'),
    provisionLock: path.join(dir, 'provision.lock'),
    pipLog: path.join(dir, 'pip.log'),
    logsDir: path.join(dir, 'logs'),
    pgDir: path.join(dir, 'pg'),
    temporalDevDb: path.join(dir, 'temporal-dev.db'),
    testStackFile: path.join(dir, 'test-stack.json'),
  };
}
