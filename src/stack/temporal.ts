import { Connection } from '@temporalio/client';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { findFreePort, pickPort } from './free-port';
import type { StackLayout } from './layout';
import type { ToolPaths } from './provision';
import { retryUntil } from './retry-until';
import { ensureSearchAttributes, searchAttributeFlags } from './search-attributes';
import { startSupervised, type SupervisedProcess } from './supervised-process';
import { instanceName } from './test-instances';

const READY_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;

/** Inputs of {@link temporalDevServerArgs}. */
export interface TemporalServerArgsOptions {
  port: number;
  /** Web UI port; omitted means headless. */
  uiPort?: number;
  /** SQLite file that persists workflows across restarts; omitted means in-memory. */
  dbFilename?: string;
}

/** Arguments for `temporal server start-dev` bound to 127.0.0.1 with reverie's search attributes. */
export function temporalDevServerArgs(options: TemporalServerArgsOptions): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.dbFilename === undefined ? [] : ['--db-filename', options.dbFilename]),
    '--log-level',
    'error',
    // Activities scheduled by a workflow task start on the same worker without
    // another poll round trip (a turn's model step starts sooner).
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    ...searchAttributeFlags(),
  ];
}

/** Options for {@link startTemporal}. */
export interface TemporalOptions {
  tools: ToolPaths;
  layout: StackLayout;
  /** `dev`: UI on (8233 when free), state kept in `.reverie/temporal-dev.db`; `test`: headless, in-memory. */
  mode: 'dev' | 'test';
  namespace: string;
  /** Frontend and UI ports to use when free (dev). */
  preferredPorts?: { frontend: number; ui: number };
}

/** A Temporal dev server we started. */
export interface RunningTemporal {
  /** `127.0.0.1:PORT` */
  address: string;
  uiUrl?: string;
  process: SupervisedProcess;
  stop(): Promise<void>;
}

/**
 * Start `temporal server start-dev` and wait until it answers, with the
 * reverie search attributes registered.
 * @throws Error with the tail of the server log when it does not come up.
 */
export async function startTemporal(options: TemporalOptions): Promise<RunningTemporal> {
  const { layout, tools, mode } = options;
  const port = await pickPort(options.preferredPorts?.frontend);
  const uiPort = mode === 'dev' ? await pickUiPort(options.preferredPorts?.ui, port) : undefined;
  const name = instanceName(mode);
  const logFile = path.join(layout.logsDir, `temporal-${name}.log`);
  await mkdir(layout.logsDir, { recursive: true });
  const proc = await startSupervised({
    name: 'temporal',
    command: tools.temporalCli,
    args: temporalDevServerArgs({
      port,
      uiPort,
      dbFilename: mode === 'dev' ? layout.temporalDevDb : undefined,
    }),
    logFile,
    stopSignal: 'SIGTERM',
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await proc.stop();
      if (mode === 'test') await rm(logFile, { force: true });
    })());

  const address = `127.0.0.1:${port}`;
  try {
    const connection = await waitForTemporal(address, {
      stopIf: () => (proc.hasExited() ? new Error('temporal exited during start-up') : undefined),
    });
    try {
      await ensureSearchAttributes(connection, options.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    const tail = await proc.logTail(2000);
    await stop();
    throw new Error(
      `Temporal did not start (${(err as Error).message}); log ${logFile}:\n${tail}`,
      { cause: err },
    );
  }
  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    process: proc,
    stop,
  };
}

/**
 * Connect to the Temporal frontend at `address`, retrying until
 * `getSystemInfo` answers. The caller closes the returned connection.
 * @throws the last error after `timeoutMs` (default 60 s).
 */
export async function waitForTemporal(
  address: string,
  options: { timeoutMs?: number; stopIf?: () => Error | undefined } = {},
): Promise<Connection> {
  return retryUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: PROBE_TIMEOUT_MS });
      try {
        // A deadline per probe: the SDK's own retry policy would otherwise wait far longer.
        await connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
          connection.workflowService.getSystemInfo({}),
        );
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    },
    { timeoutMs: options.timeoutMs ?? READY_TIMEOUT_MS, intervalMs: 250, stopIf: options.stopIf },
  );
}

/** The frontend port is not bound yet, so the OS could hand it out again; never reuse it. */
async function pickUiPort(preferred: number | undefined, frontendPort: number): Promise<number> {
  let port = await pickPort(preferred);
  while (port === frontendPort) port = await findFreePort();
  return port;
}
