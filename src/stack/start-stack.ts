import { mkdir } from 'node:fs/promises';
import { stackLayout } from './layout';
import { startPostgres, waitForPostgres } from './postgres';
import { provisionTools } from './provision';
import { ensureSearchAttributes } from './search-attributes';
import { startTemporal, waitForTemporal } from './temporal';
import { removeStaleTestInstances } from './test-instances';

/** Ports `reverie dev` uses when they are free, so bookmarks and tools keep working. */
export const DEV_PORTS = { temporal: 7233, temporalUi: 8233, postgres: 54320 } as const;

/** Options for {@link startStack}. */
export interface StartStackOptions {
  /** Project root; files go to `<root>/.reverie/`. */
  root: string;
  /** `dev`: persistent data, fixed ports when free, Temporal UI; `test`: throwaway, fast, headless. */
  mode: 'dev' | 'test';
  /** Use this Temporal frontend (host:port) instead of starting one. */
  temporalAddress?: string;
  /** Use this Postgres instead of starting one. */
  databaseUrl?: string;
  /** Temporal namespace for the search attributes. @default 'default' */
  namespace?: string;
  /** Progress lines; defaults to stderr. */
  log?: (line: string) => void;
}

/** A running stack: addresses to hand to the API and workers, and how to stop it. */
export interface Stack {
  temporalAddress: string;
  /** Web UI of the Temporal server we started in dev mode. */
  temporalUiUrl?: string;
  databaseUrl: string;
  temporalCliPath: string;
  /** For `TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } })`. */
  temporalTestServerPath: string;
  /** Process group ids of the servers we started (empty for external services); for diagnostics. */
  processGroups: number[];
  /** Stop what this call started (not external services). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Provision the tools (first run only), then start Postgres (with pgvector and
 * database `reverie`) and a Temporal dev server in parallel, or wait for the
 * external ones given. Servers die with this process, even on `kill -9`.
 * @throws StackPrerequisiteError when the tools cannot be installed here.
 * @throws Error naming the service and quoting its log when one does not come up.
 */
export async function startStack(options: StartStackOptions): Promise<Stack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const namespace = options.namespace ?? 'default';
  const layout = stackLayout(options.root);
  const tools = await provisionTools(options.root, { log });
  await mkdir(layout.logsDir, { recursive: true });
  if (options.mode === 'test') await removeStaleTestInstances(layout);
  const dev = options.mode === 'dev';

  const [postgres, temporal] = await Promise.allSettled([
    options.databaseUrl === undefined
      ? startPostgres({
          tools,
          layout,
          mode: options.mode,
          preferredPort: dev ? DEV_PORTS.postgres : undefined,
          log,
        })
      : waitForPostgres(options.databaseUrl).then(() => undefined),
    options.temporalAddress === undefined
      ? startTemporal({
          tools,
          layout,
          mode: options.mode,
          namespace,
          preferredPorts: dev
            ? { frontend: DEV_PORTS.temporal, ui: DEV_PORTS.temporalUi }
            : undefined,
        })
      : prepareExternalTemporal(options.temporalAddress, namespace).then(() => undefined),
  ]);
  const started = [postgres, temporal].flatMap((r) =>
    r.status === 'fulfilled' && r.value ? [r.value] : [],
  );
  const failure = [postgres, temporal].find((r) => r.status === 'rejected');
  if (failure) {
    await Promise.all(started.map((s) => s.stop()));
    throw failure.reason;
  }

  const pgServer = postgres.status === 'fulfilled' ? postgres.value : undefined;
  const temporalServer = temporal.status === 'fulfilled' ? temporal.value : undefined;
  let stopping: Promise<void> | undefined;
  return {
    temporalAddress: temporalServer?.address ?? options.temporalAddress!,
    temporalUiUrl: temporalServer?.uiUrl,
    databaseUrl: pgServer?.databaseUrl ?? options.databaseUrl!,
    temporalCliPath: tools.temporalCli,
    temporalTestServerPath: tools.temporalTestServer,
    processGroups: started.map((s) => s.process.pgid),
    stop: () => (stopping ??= Promise.all(started.map((s) => s.stop())).then(() => undefined)),
  };
}

async function prepareExternalTemporal(address: string, namespace: string): Promise<void> {
  const connection = await waitForTemporal(address);
  try {
    await ensureSearchAttributes(connection, namespace);
  } finally {
    await connection.close();
  }
}
