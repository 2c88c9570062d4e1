import type { Config } from '../config';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import type { Logger } from '../logger';

/**
 * Apply pending migrations (safe from several processes at once).
 * @throws UnknownMigrationsError when a newer build already migrated the database
 */
export async function migrateDatabase(config: Config, log: Logger): Promise<void> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  const pool = createPool(config.databaseUrl, 2);
  try {
    const applied = await migrate(pool, {
      variables: { EMBEDDING_DIM: config.embeddingDim },
      log: (line) => log.info(line),
    });
    if (applied.length === 0) log.debug('database schema is up to date');
  } finally {
    await pool.end();
  }
}
