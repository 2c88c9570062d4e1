import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

/** Where the numbered plain-SQL migrations live. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;
// Any constant works; it only has to be the same for every reverie process.
const MIGRATION_LOCK_KEY = 727_001;
const DEFAULT_VARIABLES = { EMBEDDING_DIM: 384 };

/**
 * The database records migrations this build does not have: a newer build
 * migrated it (a rolling deploy with an older replica still starting, or a
 * rollback). Applying this build's pending migrations on top of a newer
 * schema could corrupt it, so nothing is applied.
 */
export class UnknownMigrationsError extends Error {
  override name = 'UnknownMigrationsError';
  constructor(
    /** File names of the applied migrations this build does not know, in order. */
    readonly unknown: string[],
  ) {
    super(
      `database has migrations ${unknown.join(', ')} that this build does not know; ` +
        'deploy the newer build (or one that includes them), or point DATABASE_URL at a database of this version',
    );
  }
}

export interface MigrateOptions {
  dir?: string;
  /** Values substituted for `{{NAME}}` placeholders (e.g. EMBEDDING_DIM). */
  variables?: Record<string, string | number>;
  log?: (line: string) => void;
}

/**
 * Apply pending migrations in order, each in its own transaction that records
 * itself. A session advisory lock makes concurrent runners safe: the second
 * waits, then finds nothing to do.
 * @returns the names of the migrations applied by this call.
 * @throws UnknownMigrationsError before applying anything, when the database
 *   has applied migrations that are not in `dir`
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`create table if not exists schema_migrations (
      version int primary key,
      name text not null,
      applied_at timestamptz not null default now())`);
    const recorded = (
      await client.query<{ version: number; name: string }>(
        'select version, name from schema_migrations order by version',
      )
    ).rows;
    const known = new Set(files.map(versionOf));
    const unknown = recorded.filter((r) => !known.has(r.version)).map((r) => r.name);
    if (unknown.length > 0) throw new UnknownMigrationsError(unknown);
    const done = new Set(recorded.map((r) => r.version));
    for (const file of files) {
      const version = versionOf(file);
      if (done.has(version)) continue;
      const sql = substitute(await readFile(path.join(dir, file), 'utf8'), {
        ...DEFAULT_VARIABLES,
        ...options.variables,
      });
      await client.query('begin');
      try {
        await client.query('insert into schema_migrations (version, name) values ($1, $2)', [
          version,
          file,
        ]);
        await client.query(sql);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      options.log?.(`applied migration ${file}`);
      applied.push(file);
    }
  } finally {
    await client
      .query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
    client.release();
  }
  return applied;
}

function versionOf(file: string): number {
  return Number(MIGRATION_FILE.exec(file)![1]);
}

function substitute(sql: string, variables: Record<string, string | number>): string {
  return sql.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`migration needs the variable ${name}`);
    if (!/^[A-Za-z0-9_.-]+$/.test(String(value))) throw new Error(`unsafe value for ${name}`);
    return String(value);
  });
}
