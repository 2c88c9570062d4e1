/**
 * Every log the test suite writes lands under one directory per run
 * (`REVERIE_TEST_RUN_DIR`, made by scripts/test.js), and every secret a test
 * uses is registered there, so that after jest the check in
 * `log-secret-check.ts` can grep every log for every secret.
 *
 * Layout of a run directory:
 * - `logs/in-process-*.log`: pino loggers of API/worker instances inside jest workers
 * - `logs/api-*.log`, `logs/worker-*.log`: stdout and stderr of spawned `reverie` processes
 * - `logs/cli-*.log`: `LOG_FILE` and stderr of CLI runs
 * - `logs/stack-*.log`: the embedded stack's Postgres and Temporal logs (global-teardown)
 * - `secrets.jsonl`: `{kind, value}` per registered secret (test credentials only)
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Logger } from '../../src/logger';
import { PROJECT_ROOT } from '../setup/stack-env';

/** What a registered secret is; the check names the kind, never the value. */
export type SecretKind =
  | 'api_key'
  | 'api_key_secret'
  | 'admin_token'
  | 'jwt'
  | 'jwt_signature'
  | 'webhook_secret'
  | 'provider_api_key';

/** Where logs of a producer go: the file name starts with it. */
export type LogSource = 'in-process' | 'api' | 'worker' | 'cli' | 'stack';

export const SECRETS_FILE = 'secrets.jsonl';
export const LOGS_DIR = 'logs';
/** Shorter values would match by chance; nothing we mint is this short. */
export const MIN_SECRET_LENGTH = 12;

/** This run's directory; runs outside scripts/test.js share a `manual` one (never checked). */
export function testRunDir(): string {
  return (
    process.env.REVERIE_TEST_RUN_DIR ?? path.join(PROJECT_ROOT, '.reverie', 'test-runs', 'manual')
  );
}

/** A fresh log file path for one producer. */
export function logPath(source: LogSource, name: string, dir = testRunDir()): string {
  const logs = path.join(dir, LOGS_DIR);
  mkdirSync(logs, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60);
  return path.join(logs, `${source}-${safe}-${process.pid}-${randomUUID().slice(0, 8)}.log`);
}

/** The level of test loggers: debug by default, so request lines (with their headers) are checked too. */
export function testLogLevel(): string {
  return process.env.TEST_LOG_LEVEL ?? 'debug';
}

/** A pino logger for an API or worker running inside a jest worker, writing to this run's logs. */
export function testLogger(name: string): Logger {
  return createLogger(testLogLevel(), `test-${name}`, logPath('in-process', name));
}

/**
 * Record a secret a test uses, for the post-run check. Appends are atomic
 * line writes, so jest workers can register at once.
 * @throws Error for a value too short to search for without false alarms
 */
export function registerSecret(kind: SecretKind, value: string, dir = testRunDir()): void {
  if (value.length < MIN_SECRET_LENGTH)
    throw new Error(`a ${kind} shorter than ${MIN_SECRET_LENGTH} characters cannot be checked`);
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, SECRETS_FILE), `${JSON.stringify({ kind, value })}\n`);
}

/** An API key (`rv_<prefix>_<secret>`): the whole key and its secret part. */
export function registerApiKey(key: string): string {
  registerSecret('api_key', key);
  const secret = key.split('_').slice(2).join('_');
  if (secret.length >= MIN_SECRET_LENGTH) registerSecret('api_key_secret', secret);
  return key;
}

/** A JWT: the whole token and its signature (the part that makes it a credential). */
export function registerJwt(token: string): string {
  registerSecret('jwt', token);
  const signature = token.split('.')[2] ?? '';
  if (signature.length >= MIN_SECRET_LENGTH) registerSecret('jwt_signature', signature);
  return token;
}

/**
 * Environment of a CLI run: its logs at debug into this run's logs
 * (`LOG_FILE`), so its stdout stays the command's output.
 */
export function cliLogEnv(name: string): { LOG_LEVEL: string; LOG_FILE: string } {
  return { LOG_LEVEL: testLogLevel(), LOG_FILE: logPath('cli', name) };
}

/** Add what a CLI run wrote to stderr to its log (its messages are log lines too). */
export function appendToLog(file: string, text: string | undefined): void {
  if (text) appendFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
