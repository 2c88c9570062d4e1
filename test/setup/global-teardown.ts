import type { Stack } from '../../src/stack';
import { STACK_GLOBAL } from './global-setup';

/** Stop the stack global-setup started (external services are left alone). */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<string, unknown>;
  const stack = holder[STACK_GLOBAL] as Stack | undefined;
  delete holder[STACK_GLOBAL];
  await stack?.stop();
}
