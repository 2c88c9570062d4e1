/**
 * The client side of Temporal, for the API and the CLI. It must never import
 * `@temporalio/worker`: that package loads the native core bridge, which the
 * API process has no use for (test/unit/api-module-graph.test.ts checks it).
 */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { connectionOptions } from './connection-options';

/**
 * A Temporal client for the API and CLI, on the configured namespace.
 * @throws Error when TEMPORAL_ADDRESS is not set or the frontend is unreachable
 */
export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.temporal.namespace });
}
