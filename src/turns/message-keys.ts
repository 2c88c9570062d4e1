/**
 * Idempotency keys of the messages a run writes (`messages.idem_key`): a
 * retried write finds the first one instead of adding a second message.
 */
export const messageKey = {
  user: (runId: string, index: number) => `${runId}:user:${index}`,
  assistant: (runId: string, step: number) => `${runId}:assistant:${step}`,
  tool: (runId: string, step: number, index: number) => `${runId}:tool:${step}:${index}`,
};
