import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { guardProcessGroup } from './exit-guard';
import { readTail } from './read-tail';

/**
 * POSIX sh watchdog run around every server. It starts the server in the
 * background, and a poller stops it (then SIGKILLs the group after a grace
 * period) when our node process disappears — even after `kill -9`, which no
 * 'exit' listener can see. Arguments: parent pid, stop signal, grace seconds,
 * then the server command. The INT/TERM trap only keeps the shell waiting
 * until the server has exited: we signal the whole process group, so the
 * server receives signals directly.
 */
export const WATCHDOG_SCRIPT = `parent=$1; sig=$2; grace=$3; shift 3
trap ':' INT TERM
"$@" &
child=$!
(
  trap '' INT TERM
  while kill -0 "$parent" 2>/dev/null; do
    kill -0 "$child" 2>/dev/null || exit 0
    sleep 1
  done
  kill -s "$sig" "$child" 2>/dev/null
  waited=0
  while kill -0 "$child" 2>/dev/null && [ "$waited" -lt "$grace" ]; do
    sleep 1
    waited=$((waited + 1))
  done
  kill -s KILL 0
) &
poller=$!
while :; do
  wait "$child"
  code=$?
  kill -0 "$child" 2>/dev/null || break
done
kill -s KILL "$poller" 2>/dev/null
wait "$poller" 2>/dev/null
exit "$code"`;

/** Options for {@link startSupervised}. */
export interface SuperviseOptions {
  /** Short name used in errors ("postgres", "temporal"). */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here, so no pipe can fill up or break when we exit. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** The signal that asks the server for a quick clean shutdown. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /** How long a stop waits before SIGKILL. @default 10_000 */
  graceMs?: number;
}

/** A server running under the watchdog, in its own process group. */
export interface SupervisedProcess {
  readonly name: string;
  /** Process group id (the watchdog's pid); every process of the server is in it. */
  readonly pgid: number;
  /** Resolves with the exit code (or null after a signal) when the server has exited. */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** The end of the server's log, for error messages. */
  logTail(maxBytes?: number): Promise<string>;
  /** Stop signal to the group, SIGKILL after the grace period; idempotent. */
  stop(): Promise<void>;
}

/** The argv that runs `command` under the watchdog for `parentPid` (`sh -c SCRIPT ...`). */
export function watchdogArgs(
  parentPid: number,
  stopSignal: NodeJS.Signals,
  graceMs: number,
  command: string,
  args: readonly string[],
): string[] {
  const graceSeconds = Math.max(1, Math.ceil(graceMs / 1000));
  const signalName = stopSignal.replace(/^SIG/, '');
  // "$0" of the script: names the shell in `ps` output.
  return [
    '-c',
    WATCHDOG_SCRIPT,
    'reverie-watchdog',
    String(parentPid),
    signalName,
    String(graceSeconds),
    command,
    ...args,
  ];
}

/**
 * Start `command` under the watchdog in a new process group and register it
 * with the exit guard. Resolves once spawned; readiness is the caller's job.
 */
export async function startSupervised(options: SuperviseOptions): Promise<SupervisedProcess> {
  const stopSignal = options.stopSignal ?? 'SIGTERM';
  const graceMs = options.graceMs ?? 10_000;
  // Append, never truncate: a second start that fails must not wipe a running server's log.
  const out = openSync(options.logFile, 'a');
  writeSync(out, `--- ${new Date().toISOString()} ${options.command} ${options.args.join(' ')}\n`);
  let child;
  try {
    child = spawn(
      '/bin/sh',
      watchdogArgs(process.pid, stopSignal, graceMs, options.command, options.args),
      {
        // Own process group: signals reach every server process, and a Ctrl-C
        // in the terminal reaches only us, so we decide the shutdown order.
        detached: true,
        stdio: ['ignore', out, out],
        env: options.env ?? process.env,
      },
    );
  } finally {
    closeSync(out);
  }
  const pgid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  // The servers must not keep a finished node process alive; stop() and the exit guard end them.
  child.unref();

  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  const unguard = guardProcessGroup(pgid, stopSignal);
  void exited.then(unguard);

  let stopping: Promise<void> | undefined;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // The group is already gone.
    }
  };
  return {
    name: options.name,
    pgid,
    exited,
    hasExited: () => done,
    logTail: (maxBytes) => readTail(options.logFile, maxBytes),
    stop() {
      stopping ??= (async () => {
        if (done) return;
        signalGroup(stopSignal);
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // Sweep what outlived the watchdog (its poller's `sleep`, or backends of a SIGKILLed server).
        signalGroup('SIGKILL');
      })();
      return stopping;
    },
  };
}
