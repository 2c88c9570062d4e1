/**
 * RSS and CPU time of the stack's servers (Temporal dev server, Postgres), read
 * from Linux /proc by process group. Elsewhere these return an empty map.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessUsage {
  rssBytes: number;
  cpuMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** Usage summed per server kind (`temporal`, `postgres`) over the given process groups. */
export async function groupUsage(groups: number[]): Promise<Map<string, ProcessUsage>> {
  const usage = new Map<string, ProcessUsage>();
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  const leaders = new Map<number, string>();
  for (const pgid of groups) {
    const comm = await readFile(`/proc/${pgid}/comm`, 'utf8').catch(() => 'unknown');
    leaders.set(pgid, comm.trim().startsWith('postgres') ? 'postgres' : 'temporal');
  }
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
      // utime stime cutime cstime (the last two: children it reaped, e.g. closed Postgres backends).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind = leaders.get(Number(fields[2]));
      if (!kind) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const rssBytes = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      const cpuMs = fields.slice(11, 15).reduce((n, f) => n + Number(f), 0) * TICK_MS;
      const sum = usage.get(kind) ?? { rssBytes: 0, cpuMs: 0 };
      usage.set(kind, { rssBytes: sum.rssBytes + rssBytes, cpuMs: sum.cpuMs + cpuMs });
    } catch {
      // The process exited while we looked.
    }
  }
  return usage;
}
