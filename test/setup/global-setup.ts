import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../../src/db/migrate';
import { startStack, stackLayout, type Stack } from '../../src/stack';
import { startS3Server } from '../helpers/s3-server';
import { PROJECT_ROOT, type TestStackEnv } from './stack-env';

/** Where global-teardown finds the stack: both run in jest's main process. */
export const STACK_GLOBAL = '__reverieTestStack';
/** The run's S3-protocol server (s3rver), closed by global-teardown. */
export const S3_GLOBAL = '__reverieTestS3';

const log = (line: string): void => void process.stderr.write(`[stack] ${line}\n`);

/**
 * Start one stack for the whole integration run (or use TEMPORAL_ADDRESS /
 * DATABASE_URL when set), migrate the database, and publish the addresses to
 * the test workers through the environment and `.reverie/test-stack.json`.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const stack = await startStack({
    root: PROJECT_ROOT,
    mode: 'test',
    temporalAddress: nonEmpty(process.env.TEMPORAL_ADDRESS),
    databaseUrl: nonEmpty(process.env.DATABASE_URL),
    log,
  });
  (globalThis as Record<string, unknown>)[STACK_GLOBAL] = stack;
  try {
    await applyMigrations(stack);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const env: TestStackEnv = {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_TEST_SERVER_PATH: stack.temporalTestServerPath,
    TEMPORAL_CLI_PATH: stack.temporalCliPath,
  };
  // Workers are forked after global setup, so they inherit these.
  Object.assign(process.env, env);
  const s3 = await startS3Server(path.join(PROJECT_ROOT, '.reverie', 'test-s3'));
  (globalThis as Record<string, unknown>)[S3_GLOBAL] = s3;
  process.env.S3_ENDPOINT_TEST = s3.endpoint;
  await writeFile(stackLayout(PROJECT_ROOT).testStackFile, `${JSON.stringify(env, null, 2)}\n`);
  log(
    `ready in ${((Date.now() - started) / 1000).toFixed(1)}s (temporal ${env.TEMPORAL_ADDRESS}, postgres ${env.DATABASE_URL})`,
  );
}

async function applyMigrations(stack: Stack): Promise<void> {
  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  try {
    await migrate(pool, { log: () => undefined });
  } finally {
    await pool.end();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
