/**
 * What tests use to make credentials, registering each for the post-run log
 * check (test/helpers/test-logs.ts): use these instead of the src functions.
 */
import { createApiKey as createStoredApiKey } from '../../src/db/api-keys';
import { registerApiKey, registerSecret } from './test-logs';

export { registerApiKey, registerJwt, registerSecret } from './test-logs';

/** `createApiKey` of src/db/api-keys, with the key registered. */
export async function createApiKey(
  ...args: Parameters<typeof createStoredApiKey>
): ReturnType<typeof createStoredApiKey> {
  const created = await createStoredApiKey(...args);
  registerApiKey(created.key);
  return created;
}

/**
 * Register the credentials an admin response shows once: a created key's
 * `key`, a tenant's `webhook_secret`. @returns the body, for chaining.
 */
export function registerShown<T>(body: T): T {
  const shown = body as { key?: unknown; webhook_secret?: unknown };
  if (typeof shown.key === 'string' && shown.key.startsWith('rv_')) registerApiKey(shown.key);
  if (typeof shown.webhook_secret === 'string')
    registerSecret('webhook_secret', shown.webhook_secret);
  return body;
}
