/** The results table (stdout and Markdown) and the JSON file under `results/`. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Profile, Row } from './harness';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export interface Report {
  date: string;
  command: string;
  profile: Profile;
  machine: Machine;
  durationSeconds: number;
  rows: Row[];
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

const num = (v: number | undefined): string => {
  if (v === undefined || Number.isNaN(v)) return '';
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
};

/** A Markdown table; it reads fine on a terminal too. */
export function table(rows: Row[]): string {
  const header = [
    'scenario',
    'metric',
    'unit',
    'reverie median',
    'min',
    'max',
    'baseline',
    'ratio',
    'target',
    '',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.metric,
    r.unit,
    num(r.reverie.median),
    num(r.reverie.min),
    num(r.reverie.max),
    num(r.baseline),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'ok' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function markdown(report: Report): string {
  const m = report.machine;
  return [
    `# reverie bench — ${report.date}`,
    '',
    `- command: \`${report.command}\` (profile \`${report.profile.name}\`, ${report.profile.reps} repetitions, warm-up excluded)`,
    `- machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}`,
    `- duration: ${report.durationSeconds.toFixed(0)} s`,
    '',
    table(report.rows),
    '',
    'min / median / max are over the repetitions; the baseline column is the baseline’s median',
    '(ttft: the openai client straight to the fake provider; throughput: a plain Koa proxy;',
    'health: a bare Koa app). Fake provider: 50 ms to the first token, 40 chunks 5 ms apart.',
    '',
  ].join('\n');
}

/** Write `results/bench-<date>.md` and `.json` (`-quick` for a quick run); returns their paths. */
export async function writeReport(dir: string, report: Report): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const suffix = report.profile.name === 'quick' ? '-quick' : '';
  const base = path.join(dir, `bench-${report.date}${suffix}`);
  await writeFile(`${base}.md`, markdown(report));
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  return [`${base}.md`, `${base}.json`];
}
