import { copyFile, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../src/stack/postgres';
import { sharedPostgresDir } from '../../src/stack/postgres-placement';
import { stackLayout } from '../../src/stack/layout';
import { provisionTools } from '../../src/stack/provision';
import { PROJECT_ROOT } from '../setup/stack-env';

/**
 * A checkout the unprivileged Postgres user cannot traverse (a 0700 home such
 * as /root/reverie, or a `mktemp -d` folder): as root, the embedded Postgres
 * must still initialise, start and answer.
 */
const asRoot = process.getuid?.() === 0;
if (!asRoot) {
  console.log('postgres-private-dir: skipped, only root runs Postgres as another user');
}

(asRoot ? describe : describe.skip)('embedded Postgres in a folder only root can enter', () => {
  let parent: string;
  let root: string;

  beforeAll(async () => {
    // mkdtemp creates the folder 0700, like a root home.
    parent = await mkdtemp(path.join(os.tmpdir(), 'reverie-private-'));
    expect((await stat(parent)).mode & 0o777).toBe(0o700);
    root = path.join(parent, 'reverie');
    const layout = stackLayout(root);
    await mkdir(layout.dir, { recursive: true });
    // The provisioned venv, reached through the private folder: the path the
    // Postgres user would have to traverse is under the 0700 directory.
    await symlink(stackLayout(PROJECT_ROOT).venvDir, layout.venvDir);
    await copyFile(stackLayout(PROJECT_ROOT).toolsMarker, layout.toolsMarker);
  });
  afterAll(async () => {
    if (root) await rm(sharedPostgresDir(root), { recursive: true, force: true });
    if (parent) await rm(parent, { recursive: true, force: true });
  });

  const selectOne = async (url: string, sql = 'select 1 as one'): Promise<unknown[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it('starts a test instance that answers select 1, and stops', async () => {
    const tools = await provisionTools(root, { log: () => undefined });
    expect(tools.pgBinDir.startsWith(parent)).toBe(true);
    const server = await startPostgres({
      tools,
      layout: stackLayout(root),
      mode: 'test',
      log: () => undefined,
    });
    try {
      expect(await selectOne(server.databaseUrl)).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });

  it('keeps dev data across restarts in the same place', async () => {
    const tools = await provisionTools(root, { log: () => undefined });
    const options = {
      tools,
      layout: stackLayout(root),
      mode: 'dev' as const,
      log: () => undefined,
    };
    const first = await startPostgres(options);
    try {
      await selectOne(first.databaseUrl, 'create table kept (n int); insert into kept values (7)');
    } finally {
      await first.stop();
    }
    const second = await startPostgres(options);
    try {
      expect(await selectOne(second.databaseUrl, 'select n from kept')).toEqual([{ n: 7 }]);
    } finally {
      await second.stop();
    }
  });
});
