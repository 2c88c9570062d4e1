import type { Config } from '../config';

/** Link to a workflow in the Temporal UI, for operators; pure, imports no SDK. */
export function temporalUrl(config: Config, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
