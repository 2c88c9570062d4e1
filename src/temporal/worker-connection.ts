/** The worker side of Temporal: only the worker's composition root imports this. */
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { connectionOptions } from './connection-options';

/**
 * The native connection a worker polls with.
 * @throws Error when TEMPORAL_ADDRESS is not set or the frontend is unreachable
 */
export function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}
