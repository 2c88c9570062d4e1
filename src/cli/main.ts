import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config';
import { UnknownMigrationsError } from '../db/migrate';
import { createLogger } from '../logger';
import { startApi } from '../server';
import { startWorker } from '../worker';
import { StackPrerequisiteError } from '../stack';
import { runDev } from './dev';
import { migrateDatabase } from './migrate-database';
import { untilSignal } from './until-signal';
import { runIngest } from './ingest';
import { runSearch } from './search';
import { runMemories } from './memories';
import { runDream } from './dream';
import { runSchedule } from './schedule';
import { runKeys } from './keys';

const USAGE = `usage: reverie <command>

commands:
  dev       start everything: Temporal (UI), Postgres + pgvector, migrations, api and worker
  api       run the HTTP API (needs DATABASE_URL and TEMPORAL_ADDRESS)
  worker    run a Temporal worker (needs DATABASE_URL and TEMPORAL_ADDRESS)
  migrate   apply database migrations
  memories  list, search or clear a user's memories (reverie memories --help)
  ingest    upload files with a progress bar per file (reverie ingest PATH...)
  search    search files, memories, moments and messages (reverie search QUERY)
  dream     start a dreaming run for a user (reverie dream --user U [--now])
  schedule  show or change the tenant's dreaming schedule (reverie schedule show|set|pause|resume)
  keys      create, list or revoke API keys (reverie keys create|list|revoke)
`;

/** Entry point of the `reverie` command; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false });
  const command = positionals[0];
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`reverie: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel, `reverie-${command ?? 'cli'}`, config.logFile);
  try {
    switch (command) {
      case 'dev':
        return await runDev(config, log, path.resolve(__dirname, '../..'));
      case 'api': {
        await migrateDatabase(config, log);
        const api = await startApi(config, log);
        await untilSignal();
        await api.close();
        return 0;
      }
      case 'worker': {
        const worker = await startWorker(config, log);
        await Promise.race([untilSignal(), worker.done]);
        await worker.shutdown();
        return 0;
      }
      case 'migrate':
        await migrateDatabase(config, log);
        return 0;
      case 'memories':
        return await runMemories(argv.slice(argv.indexOf('memories') + 1), config);
      case 'ingest':
        return await runIngest(argv.slice(argv.indexOf('ingest') + 1), config);
      case 'search':
        return await runSearch(argv.slice(argv.indexOf('search') + 1), config);
      case 'dream':
        return await runDream(argv.slice(argv.indexOf('dream') + 1), config);
      case 'schedule':
        return await runSchedule(argv.slice(argv.indexOf('schedule') + 1), config);
      case 'keys':
        return await runKeys(argv.slice(argv.indexOf('keys') + 1), config);
      default:
        process.stdout.write(USAGE);
        return command ? 2 : 0;
    }
  } catch (err) {
    if (err instanceof StackPrerequisiteError) {
      process.stderr.write(`reverie: ${err.message}\n`);
      return 3;
    }
    // An operator error, not a crash: say what to deploy, without a stack trace.
    if (err instanceof UnknownMigrationsError) {
      process.stderr.write(`reverie: ${err.message}\n`);
      return 4;
    }
    throw err;
  }
}
