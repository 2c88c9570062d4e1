import type { Stack } from '../../src/stack';
import type { S3TestServer } from '../helpers/s3-server';
import { S3_GLOBAL, STACK_GLOBAL } from './global-setup';

/** Stop the stack global-setup started (external services are left alone). */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<string, unknown>;
  const stack = holder[STACK_GLOBAL] as Stack | undefined;
  delete holder[STACK_GLOBAL];
  await (holder[S3_GLOBAL] as S3TestServer | undefined)?.close();
  await stack?.stop();
}
