import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_FILE, removeOrphanedSharedDirs } from '../../src/stack/shared-postgres-cleanup';

describe('removeOrphanedSharedDirs', () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'reverie-shared-'));
  });
  afterEach(() => rm(parent, { recursive: true, force: true }));

  async function shared(hash: string, project?: string, postmasterPid?: number): Promise<string> {
    const dir = path.join(parent, `reverie-pg-${hash}`);
    await mkdir(path.join(dir, 'pg', 'dev'), { recursive: true });
    if (project !== undefined) await writeFile(path.join(dir, PROJECT_FILE), project);
    if (postmasterPid !== undefined)
      await writeFile(path.join(dir, 'pg', 'dev', 'postmaster.pid'), `${postmasterPid}\n/data\n`);
    return dir;
  }
  const present = (dir: string) =>
    stat(dir).then(
      () => true,
      () => false,
    );

  it('removes the folders of checkouts that are gone, and only those', async () => {
    const gone = await shared('0'.repeat(16), path.join(parent, 'deleted-checkout'));
    const alive = await shared('1'.repeat(16), parent);
    const unknown = await shared('2'.repeat(16));
    const running = await shared('3'.repeat(16), path.join(parent, 'deleted'), process.pid);
    const deadServer = await shared('4'.repeat(16), path.join(parent, 'deleted'), 2 ** 22 + 7);
    const other = path.join(parent, 'reverie-pg-not-a-hash');
    await mkdir(other);
    await writeFile(path.join(other, PROJECT_FILE), path.join(parent, 'deleted'));

    const removed = await removeOrphanedSharedDirs(parent);

    expect(removed.sort()).toEqual([gone, deadServer].sort());
    expect(await present(gone)).toBe(false);
    expect(await present(deadServer)).toBe(false);
    for (const kept of [alive, unknown, running, other]) expect(await present(kept)).toBe(true);
  });

  it('is a no-op when the parent does not exist', async () => {
    expect(await removeOrphanedSharedDirs(path.join(parent, 'missing'))).toEqual([]);
  });
});
