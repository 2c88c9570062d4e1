import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * The API process must not load `@temporalio/worker` (its native core bridge
 * and bundler are the worker's business). A fresh Node process loads the API's
 * composition root through tsx and reports every module it pulled in.
 */

const root = path.resolve(__dirname, '../..');

/** Absolute paths of every module `require(entry)` loads, in a clean process. */
function modulesLoadedBy(entry: string): string[] {
  const script = `require('tsx/cjs'); require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(out) as string[];
}

const inPackage = (name: string) => (file: string) =>
  file.split(path.sep).join('/').includes(`/node_modules/${name}/`);

describe('module graph of the API process', () => {
  it('loads the Temporal client but not @temporalio/worker', () => {
    const loaded = modulesLoadedBy(path.join(root, 'src/server.ts'));
    // The probe works: the client side is there.
    expect(loaded.some(inPackage('@temporalio/client'))).toBe(true);
    expect(loaded.filter(inPackage('@temporalio/worker'))).toEqual([]);
  });

  it('the worker does load it (the probe can see the package)', () => {
    const loaded = modulesLoadedBy(path.join(root, 'src/worker.ts'));
    expect(loaded.some(inPackage('@temporalio/worker'))).toBe(true);
  });
});
