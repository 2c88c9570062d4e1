/**
 * Last-resort cleanup: when this process exits or is told to stop by a signal,
 * send every still-running server group its stop signal. Signals are sent
 * synchronously because an 'exit' listener cannot await; the watchdog around
 * each server (see supervised-process.ts) escalates to SIGKILL once we are gone.
 */

interface Guarded {
  readonly pgid: number;
  readonly signal: NodeJS.Signals;
}

const guarded = new Set<Guarded>();
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

/**
 * Remember a server process group until the returned function is called.
 * Installs the process listeners on first use.
 */
export function guardProcessGroup(pgid: number, signal: NodeJS.Signals): () => void {
  const entry = { pgid, signal };
  guarded.add(entry);
  install();
  return () => {
    guarded.delete(entry);
  };
}

function signalAll(): void {
  for (const { pgid, signal } of guarded) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // Already gone.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', signalAll);
  for (const signal of FORWARDED) {
    const onSignal = (): void => {
      signalAll();
      process.removeListener(signal, onSignal);
      // Our listener suppressed the default "terminate"; restore it unless the
      // application listens too (then it decides when to exit).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
