import { createHash } from 'node:crypto';

/**
 * Idempotency keys of the messages a run writes (`messages.idem_key`): a
 * retried write finds the first one instead of adding a second message.
 */
export const messageKey = {
  user: (runId: string, index: number) => `${runId}:user:${index}`,
  assistant: (runId: string, step: number) => `${runId}:assistant:${step}`,
  tool: (runId: string, step: number, index: number) => `${runId}:tool:${step}:${index}`,
};

/**
 * The id of a turn's `index`th user message, derived from the run (a name-based
 * UUID, RFC 9562 v5 layout): a façade can name the message before the turn has
 * written it, and a retried write keeps the same row.
 */
export function userMessageId(runId: string, index: number): string {
  const hash = createHash('sha1').update(messageKey.user(runId, index)).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
