import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { stackLayout, type Stack } from '../../src/stack';
import { logPath } from '../helpers/test-logs';
import type { S3TestServer } from '../helpers/s3-server';
import { S3_GLOBAL, STACK_GLOBAL } from './global-setup';
import { PROJECT_ROOT } from './stack-env';

/** Stop the stack global-setup started (external services are left alone). */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<string, unknown>;
  const stack = holder[STACK_GLOBAL] as Stack | undefined;
  delete holder[STACK_GLOBAL];
  await (holder[S3_GLOBAL] as S3TestServer | undefined)?.close();
  if (stack) await keepStackLogs();
  await stack?.stop();
}

/** The test stack deletes its server logs when it stops: keep them for the log secret check. */
async function keepStackLogs(): Promise<void> {
  const dir = stackLayout(PROJECT_ROOT).logsDir;
  const names = await readdir(dir).catch(() => [] as string[]);
  // This run's instances are named after jest's main process (src/stack/test-instances.ts).
  for (const name of names.filter((n) => n.endsWith(`-test-${process.pid}.log`)))
    await copyFile(path.join(dir, name), logPath('stack', name.replace(/\.log$/, '')));
}
