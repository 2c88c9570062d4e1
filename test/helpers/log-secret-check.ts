/**
 * The post-run check of "no secret in any log line" (issue 14): every log file
 * of a test run (test/helpers/test-logs.ts, with the stack servers' logs that
 * global-teardown copies there), searched for every registered secret and for
 * anything shaped like a credential. A finding names the file, the line and
 * the kind of secret, never the secret. A whole-suite run must have checked
 * something: logs of every producer, secrets of every kind, request lines.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LOGS_DIR, SECRETS_FILE, type LogSource } from './test-logs';

/** Credentials found by their shape, registered or not (src/db/api-keys.ts, src/db/tenants.ts). */
const SHAPES: { kind: string; pattern: RegExp }[] = [
  { kind: 'api_key (by shape)', pattern: /rv_[0-9a-f]{8}_[A-Za-z0-9_-]{32}/ },
  { kind: 'webhook_secret (by shape)', pattern: /whsec_[A-Za-z0-9_-]{40,}/ },
  {
    kind: 'jwt (by shape)',
    pattern: /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}/,
  },
];

/** What a whole-suite run must have registered and written, or it proved nothing. */
export const REQUIRED_KINDS = [
  'api_key',
  'admin_token',
  'jwt',
  'webhook_secret',
  'provider_api_key',
] as const;
export const REQUIRED_SOURCES: readonly LogSource[] = ['in-process', 'api', 'worker', 'cli'];
const SOURCES: readonly string[] = [...REQUIRED_SOURCES, 'stack'];

export interface Leak {
  /** Relative to the run directory. */
  file: string;
  line: number;
  kind: string;
}

export interface CheckReport {
  files: number;
  bytes: number;
  secrets: number;
  /** Registered secrets by kind. */
  kinds: Record<string, number>;
  /** Bytes of log per producer. */
  sources: Record<string, number>;
  requestLines: number;
  leaks: Leak[];
  /** Why a strict run proved nothing (no logs, a missing kind, ...). */
  problems: string[];
}

interface Secret {
  kind: string;
  value: string;
}

/**
 * Search every log of the run in `dir` for every secret registered there.
 * @param options.strict a whole-suite run: missing logs or secrets are problems
 */
export async function checkLogSecrets(
  dir: string,
  options: { strict: boolean },
): Promise<CheckReport> {
  const secrets = await readSecrets(path.join(dir, SECRETS_FILE));
  const report: CheckReport = {
    files: 0,
    bytes: 0,
    secrets: secrets.length,
    kinds: {},
    sources: {},
    requestLines: 0,
    leaks: [],
    problems: [],
  };
  for (const s of secrets) report.kinds[s.kind] = (report.kinds[s.kind] ?? 0) + 1;
  const logsDir = path.join(dir, LOGS_DIR);
  for (const name of await listLogs(logsDir)) {
    const text = await readFile(path.join(logsDir, name), 'utf8');
    report.files++;
    report.bytes += text.length;
    const source = SOURCES.find((s) => name.startsWith(`${s}-`)) ?? 'other';
    report.sources[source] = (report.sources[source] ?? 0) + text.length;
    report.requestLines += text.split('"msg":"request"').length - 1;
    report.leaks.push(...findLeaks(text, secrets, path.join(LOGS_DIR, name)));
  }
  if (options.strict) report.problems.push(...vacuity(report));
  return report;
}

/** Every place in `text` where a secret or a credential-shaped string appears. */
export function findLeaks(text: string, secrets: Secret[], file: string): Leak[] {
  const leaks: Leak[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  for (const { kind, value } of secrets) {
    const at = text.indexOf(value);
    if (at !== -1) leaks.push({ file, line: lineOf(at), kind });
  }
  for (const { kind, pattern } of SHAPES) {
    const match = pattern.exec(text);
    if (match) leaks.push({ file, line: lineOf(match.index), kind });
  }
  return leaks;
}

function vacuity(report: CheckReport): string[] {
  const problems: string[] = [];
  if (report.bytes === 0) problems.push('no log lines were written');
  for (const kind of REQUIRED_KINDS)
    if (!report.kinds[kind]) problems.push(`no ${kind} was registered`);
  for (const source of REQUIRED_SOURCES)
    if (!report.sources[source]) problems.push(`no ${source} logs were written`);
  if (report.requestLines === 0) problems.push('no request lines (debug) were logged');
  return problems;
}

/** The report as printed: counts, then each leak by file, line and kind (never a value). */
export function formatReport(report: CheckReport): string {
  const lines = [
    `log secret check: ${report.files} log files (${(report.bytes / 1e6).toFixed(1)} MB, ` +
      `${report.requestLines} request lines) against ${report.secrets} secrets ` +
      `(${Object.entries(report.kinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
  ];
  for (const leak of report.leaks)
    lines.push(`  SECRET IN LOG: ${leak.file}:${leak.line} contains a ${leak.kind}`);
  for (const problem of report.problems)
    lines.push(`  NOTHING PROVEN: ${problem} (the check would pass vacuously)`);
  return `${lines.join('\n')}\n`;
}

async function readSecrets(file: string): Promise<Secret[]> {
  if (!existsSync(file)) return [];
  const seen = new Map<string, Secret>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const secret = JSON.parse(line) as Secret;
    seen.set(secret.value, secret);
  }
  return [...seen.values()];
}

async function listLogs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
}
