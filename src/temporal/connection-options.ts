import type { Config } from '../config';

/**
 * What both a client `Connection` and a worker `NativeConnection` connect
 * with: address, TLS and API key of the configured Temporal frontend. An API key
 * implies TLS (Temporal Cloud accepts keys over TLS only).
 * @throws Error when TEMPORAL_ADDRESS is not set
 */
export function connectionOptions(config: Config) {
  if (!config.temporal.address) throw new Error('TEMPORAL_ADDRESS is not set');
  return {
    address: config.temporal.address,
    tls: config.temporal.tls || Boolean(config.temporal.apiKey) ? {} : undefined,
    apiKey: config.temporal.apiKey,
  };
}
