/**
 * RSS and CPU time of the stack's servers (Temporal dev server, Postgres), read
 * from Linux /proc. Elsewhere these return an empty map.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessUsage {
  rssBytes: number;
  cpuMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  comm: string;
  cpuMs: number;
}

async function readProc(pid: string): Promise<Proc | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime (the last two: children it reaped, e.g. closed Postgres backends).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    pid: Number(pid),
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpuMs: fields.slice(11, 15).reduce((n, f) => n + Number(f), 0) * TICK_MS,
  };
}

/**
 * Usage summed per server (`temporal`, `postgres`): the processes of the stack's
 * process groups and their children (Postgres backends make themselves group leaders).
 */
export async function serverUsage(groups: number[]): Promise<Map<string, ProcessUsage>> {
  const usage = new Map<string, ProcessUsage>();
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  const procs = (await Promise.all(pids.map(readProc))).filter((p) => p !== undefined);
  const members = new Set(procs.filter((p) => groups.includes(p.pgrp)).map((p) => p.pid));
  for (const p of procs) if (members.has(p.ppid)) members.add(p.pid);
  for (const p of procs) {
    const kind = p.comm.startsWith('postgres') ? 'postgres' : p.comm;
    if (!members.has(p.pid) || !['postgres', 'temporal'].includes(kind)) continue;
    const status = await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => '');
    const rssBytes = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    const sum = usage.get(kind) ?? { rssBytes: 0, cpuMs: 0 };
    usage.set(kind, { rssBytes: sum.rssBytes + rssBytes, cpuMs: sum.cpuMs + p.cpuMs });
  }
  return usage;
}
