import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stackLayout } from '../../src/stack/layout';

/** Addresses of the stack the jest global setup started (or was pointed at). */
export interface TestStackEnv {
  TEMPORAL_ADDRESS: string;
  DATABASE_URL: string;
  TEMPORAL_TEST_SERVER_PATH: string;
  TEMPORAL_CLI_PATH: string;
}

const KEYS = [
  'TEMPORAL_ADDRESS',
  'DATABASE_URL',
  'TEMPORAL_TEST_SERVER_PATH',
  'TEMPORAL_CLI_PATH',
] as const;

/** Project root, for `.reverie/` and the migrations. */
export const PROJECT_ROOT = path.resolve(__dirname, '../..');

/**
 * Read the stack addresses in a test file. The global setup puts them into
 * the environment of the jest workers; `.reverie/test-stack.json` is the
 * fallback for tools that run outside jest's process tree.
 * @throws Error when neither is present (the integration project was not run through jest).
 */
export function testStackEnv(): TestStackEnv {
  if (KEYS.every((k) => process.env[k])) {
    return Object.fromEntries(KEYS.map((k) => [k, process.env[k]!])) as unknown as TestStackEnv;
  }
  try {
    return JSON.parse(
      readFileSync(stackLayout(PROJECT_ROOT).testStackFile, 'utf8'),
    ) as TestStackEnv;
  } catch {
    throw new Error(
      'no test stack: run integration tests through jest (test/setup/global-setup.ts starts it)',
    );
  }
}
