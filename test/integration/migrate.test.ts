import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrate, MIGRATIONS_DIR, UnknownMigrationsError } from '../../src/db/migrate';
import { appendToLog, cliLogEnv } from '../helpers/test-logs';
import { throwawayDatabase } from '../helpers/throwaway-database';

/** The migrator on throwaway databases of the shared Postgres server. */

describe('migrate', () => {
  let files: string[];
  beforeAll(async () => {
    files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
    expect(files.length).toBeGreaterThan(0);
  });

  it('two concurrent runs on a fresh database both succeed and apply each migration once', async () => {
    const db = await throwawayDatabase();
    try {
      const [a, b] = await Promise.all([
        migrate(db.pool(), { variables: { EMBEDDING_DIM: 8 } }),
        migrate(db.pool(), { variables: { EMBEDDING_DIM: 8 } }),
      ]);
      // One of them did all the work, the other found nothing to do.
      expect([...a, ...b].sort()).toEqual(files);
      expect([a.length, b.length].sort()).toEqual([0, files.length]);

      const check = db.pool();
      const rows = (
        await check.query<{ version: number; name: string }>(
          'select version, name from schema_migrations order by version',
        )
      ).rows;
      expect(rows.map((r) => r.name)).toEqual(files);
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => Number(f.slice(0, 4))));

      // Applying again is a no-op.
      expect(await migrate(check, { variables: { EMBEDDING_DIM: 8 } })).toEqual([]);
      expect(
        (await check.query('select count(*)::int as n from schema_migrations')).rows[0].n,
      ).toBe(files.length);

      // The vector columns have the configured dimension.
      const columns = await check.query<{ table_name: string; type: string }>(
        `select c.relname as table_name, format_type(a.atttypid, a.atttypmod) as type
         from pg_attribute a join pg_class c on c.oid = a.attrelid
         where a.attname = 'embedding' and c.relkind = 'r' and c.relnamespace = 'public'::regnamespace
         order by 1`,
      );
      expect(columns.rows.length).toBeGreaterThanOrEqual(3);
      for (const c of columns.rows) expect(c.type).toBe('vector(8)');
      expect(
        (await check.query("select value from settings where key = 'embedding_dim'")).rows[0].value,
      ).toBe(8);
      await expect(
        check.query(
          `insert into tenants (id, name) values ('00000000-0000-4000-8000-0000000000aa', 't')`,
        ),
      ).resolves.toBeDefined();
      await expect(
        check.query(
          `insert into memories (id, tenant_id, user_id, content, content_hash, embedding)
           values (gen_random_uuid(), '00000000-0000-4000-8000-0000000000aa', 'u', 'c', 'h', $1::vector)`,
          [`[${Array(9).fill(0.1).join(',')}]`],
        ),
      ).rejects.toThrow(/dimensions/);
    } finally {
      await db.drop();
    }
  });

  it('uses 384 dimensions by default', async () => {
    const db = await throwawayDatabase();
    try {
      const pool = db.pool();
      expect(await migrate(pool)).toEqual(files);
      const type = await pool.query<{ type: string }>(
        `select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'chunks'::regclass and attname = 'embedding'`,
      );
      expect(type.rows[0].type).toBe('vector(384)');
    } finally {
      await db.drop();
    }
  });

  it('`reverie migrate` prints the refusal and exits 4 on a database of a newer build', async () => {
    const db = await throwawayDatabase();
    try {
      const pool = db.pool();
      await migrate(pool);
      await pool.query(
        `insert into schema_migrations (version, name) values (9999, '9999_from_the_future.sql')`,
      );
      const logs = cliLogEnv('migrate');
      const cli = spawnSync(
        process.execPath,
        [path.resolve(__dirname, '../../bin/reverie.js'), 'migrate'],
        { env: { ...process.env, DATABASE_URL: db.url, ...logs }, encoding: 'utf8' },
      );
      appendToLog(logs.LOG_FILE, cli.stderr);
      expect(cli.stderr).toBe(
        'reverie: database has migrations 9999_from_the_future.sql that this build does not know; ' +
          'deploy the newer build (or one that includes them), or point DATABASE_URL at a database of this version\n',
      );
      expect(cli.status).toBe(4);
    } finally {
      await db.drop();
    }
  });

  describe('with a migrations directory of its own', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'reverie-migrations-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('rolls a failing migration back entirely (its record too), stops there, and resumes once fixed', async () => {
      await writeFile(path.join(dir, '0001_create_a.sql'), 'create table a (id int primary key);');
      await writeFile(
        path.join(dir, '0002_break_b.sql'),
        'create table b (id int); select * from no_such_table;',
      );
      await writeFile(path.join(dir, '0003_create_c.sql'), 'create table c (id int);');
      await writeFile(path.join(dir, 'README.md'), 'not a migration');
      const db = await throwawayDatabase();
      try {
        const pool = db.pool();
        await expect(migrate(pool, { dir })).rejects.toThrow(
          /0002_break_b\.sql failed: .*no_such_table/,
        );
        const state = async () => ({
          versions: (
            await pool.query('select version from schema_migrations order by version')
          ).rows.map((r) => r.version),
          tables: (
            await pool.query(
              `select tablename from pg_tables where schemaname = 'public' and tablename in ('a', 'b', 'c') order by 1`,
            )
          ).rows.map((r) => r.tablename),
        });
        expect(await state()).toEqual({ versions: [1], tables: ['a'] });

        // The lock was released: a later run can proceed, and picks up where it stopped.
        await writeFile(path.join(dir, '0002_break_b.sql'), 'create table b (id int);');
        expect(await migrate(pool, { dir })).toEqual(['0002_break_b.sql', '0003_create_c.sql']);
        expect(await state()).toEqual({ versions: [1, 2, 3], tables: ['a', 'b', 'c'] });
      } finally {
        await db.drop();
      }
    });

    it('refuses, applying nothing, a database migrated by a newer build', async () => {
      await writeFile(path.join(dir, '0001_create_a.sql'), 'create table a (id int primary key);');
      const db = await throwawayDatabase();
      try {
        const pool = db.pool();
        expect(await migrate(pool, { dir })).toEqual(['0001_create_a.sql']);
        // A newer build applied 0009; this build knows 0001 and has 0002 pending.
        await pool.query(
          `insert into schema_migrations (version, name) values (9, '0009_newer_z.sql')`,
        );
        await writeFile(path.join(dir, '0002_create_b.sql'), 'create table b (id int);');
        const refusal = migrate(pool, { dir });
        await expect(refusal).rejects.toBeInstanceOf(UnknownMigrationsError);
        await expect(refusal).rejects.toThrow(
          'database has migrations 0009_newer_z.sql that this build does not know; deploy the newer build',
        );
        await expect(refusal).rejects.toMatchObject({ unknown: ['0009_newer_z.sql'] });
        const state = async () => ({
          versions: (
            await pool.query('select version from schema_migrations order by version')
          ).rows.map((r) => r.version),
          tables: (
            await pool.query(
              `select tablename from pg_tables where schemaname = 'public' and tablename in ('a', 'b') order by 1`,
            )
          ).rows.map((r) => r.tablename),
        });
        expect(await state()).toEqual({ versions: [1, 9], tables: ['a'] });

        // Several unknown migrations are all named, in order; the lock was released each time.
        await pool.query(
          `insert into schema_migrations (version, name) values (10, '0010_newer_y.sql')`,
        );
        await expect(migrate(pool, { dir })).rejects.toThrow(
          /^database has migrations 0009_newer_z\.sql, 0010_newer_y\.sql that this build/,
        );
        // Once the build knows them, it goes ahead.
        await writeFile(path.join(dir, '0009_newer_z.sql'), 'select 1;');
        await writeFile(path.join(dir, '0010_newer_y.sql'), 'select 1;');
        expect(await migrate(pool, { dir })).toEqual(['0002_create_b.sql']);
        expect(await state()).toEqual({ versions: [1, 2, 9, 10], tables: ['a', 'b'] });
      } finally {
        await db.drop();
      }
    });

    it('substitutes variables, refusing missing or unsafe values', async () => {
      await writeFile(
        path.join(dir, '0001_create_t.sql'),
        'create table t (label text default {{LABEL}});',
      );
      const db = await throwawayDatabase();
      try {
        const pool = db.pool();
        await expect(migrate(pool, { dir })).rejects.toThrow(/variable LABEL/);
        await expect(
          migrate(pool, { dir, variables: { LABEL: "'x'); drop table schema_migrations; --" } }),
        ).rejects.toThrow(/unsafe value for LABEL/);
        expect(
          (await pool.query('select count(*)::int as n from schema_migrations')).rows[0].n,
        ).toBe(0);
        await writeFile(
          path.join(dir, '0001_create_t.sql'),
          'create table t (n int default {{N}});',
        );
        expect(await migrate(pool, { dir, variables: { N: 7 } })).toEqual(['0001_create_t.sql']);
        await pool.query('insert into t default values');
        expect((await pool.query('select n from t')).rows).toEqual([{ n: 7 }]);
      } finally {
        await db.drop();
      }
    });
  });
});
