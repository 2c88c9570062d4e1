import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';

function connectionOptions(config: Config) {
  if (!config.temporal.address) throw new Error('TEMPORAL_ADDRESS is not set');
  return {
    address: config.temporal.address,
    tls: config.temporal.tls || Boolean(config.temporal.apiKey) ? {} : undefined,
    apiKey: config.temporal.apiKey,
  };
}

/** A Temporal client for the API and CLI. */
export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.temporal.namespace });
}

/** The native connection a worker polls with. */
export function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

/** Link to a workflow in the Temporal UI, for operators. */
export function temporalUrl(config: Config, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
