import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkLogSecrets, formatReport, REQUIRED_KINDS } from '../helpers/log-secret-check';
import { LOGS_DIR, registerSecret, type SecretKind } from '../helpers/test-logs';

/** The post-run log check catches what it must and never passes on nothing. */
describe('log secret check', () => {
  let dir: string;
  const apiKey = `rv_${randomBytes(4).toString('hex')}_${randomBytes(24).toString('base64url')}`;
  const secrets: Record<(typeof REQUIRED_KINDS)[number], string> = {
    api_key: apiKey,
    admin_token: `admin-${randomUUID()}`,
    jwt: `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${randomBytes(64).toString('base64url')}`,
    webhook_secret: `whsec_${randomBytes(32).toString('base64url')}`,
    provider_api_key: `sk-test-${randomUUID()}`,
  };
  const log = (name: string, line: string) => {
    mkdirSync(path.join(dir, LOGS_DIR), { recursive: true });
    appendFileSync(path.join(dir, LOGS_DIR, `${name}-1234-abcdef12.log`), `${line}\n`);
  };
  /** A run that wrote clean logs from every producer and registered every kind. */
  const cleanRun = () => {
    for (const [kind, value] of Object.entries(secrets))
      registerSecret(kind as SecretKind, value, dir);
    log(
      'in-process-platform',
      '{"level":20,"msg":"request","req":{"headers":{"authorization":"[redacted]"}}}',
    );
    log('api-api', '{"level":30,"msg":"api listening"}');
    log('worker-worker', '{"level":30,"msg":"worker started"}');
    log('cli-keys', '{"level":20,"msg":"database schema is up to date"}');
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'log-check-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('passes a clean whole run', async () => {
    cleanRun();
    const report = await checkLogSecrets(dir, { strict: true });
    expect(report.leaks).toEqual([]);
    expect(report.problems).toEqual([]);
    expect(report.secrets).toBe(REQUIRED_KINDS.length);
  });

  it.each(REQUIRED_KINDS)('catches a planted %s, naming file, line and kind only', async (kind) => {
    cleanRun();
    log('api-api', '{"level":30,"msg":"fine"}');
    log('api-api', `{"level":50,"msg":"request failed","err":"token ${secrets[kind]} refused"}`);
    const report = await checkLogSecrets(dir, { strict: true });
    expect(report.leaks).toContainEqual({
      file: path.join(LOGS_DIR, 'api-api-1234-abcdef12.log'),
      line: 3,
      kind,
    });
    const printed = formatReport(report);
    expect(printed).toContain(`api-api-1234-abcdef12.log:3 contains a ${kind}`);
    expect(printed).not.toContain(secrets[kind]);
  });

  it('catches a credential by its shape even when no test registered it', async () => {
    cleanRun();
    const stray = `rv_${randomBytes(4).toString('hex')}_${randomBytes(24).toString('base64url')}`;
    log('in-process-fuzz', `{"msg":"oops","key":"${stray}"}`);
    const report = await checkLogSecrets(dir, { strict: true });
    expect(report.leaks.map((l) => l.kind)).toEqual(['api_key (by shape)']);
    expect(formatReport(report)).not.toContain(stray);
  });

  it('fails a whole run that wrote no logs or registered no secrets', async () => {
    const empty = await checkLogSecrets(dir, { strict: true });
    expect(empty.problems).toEqual(
      expect.arrayContaining([
        'no log lines were written',
        'no api_key was registered',
        'no jwt was registered',
        'no cli logs were written',
        'no request lines (debug) were logged',
      ]),
    );
    for (const [kind, value] of Object.entries(secrets))
      registerSecret(kind as SecretKind, value, dir);
    expect((await checkLogSecrets(dir, { strict: true })).problems).toContain(
      'no log lines were written',
    );
    // A targeted run (one file) proves less and is allowed to.
    expect((await checkLogSecrets(dir, { strict: false })).problems).toEqual([]);
  });

  it('fails the run from the command line: exit 1, the file and kind named, the secret never printed', () => {
    cleanRun();
    log('worker-worker', `{"msg":"connected","apiKey":"${secrets.provider_api_key}"}`);
    const script = path.join(__dirname, '../../scripts/check-log-secrets.js');
    const leaked = spawnSync(process.execPath, [script, dir, '--strict'], { encoding: 'utf8' });
    expect(leaked.status).toBe(1);
    expect(leaked.stderr).toContain(
      'worker-worker-1234-abcdef12.log:2 contains a provider_api_key',
    );
    expect(leaked.stderr + leaked.stdout).not.toContain(secrets.provider_api_key);
    const empty = path.join(dir, 'empty-run');
    mkdirSync(empty);
    const vacuous = spawnSync(process.execPath, [script, empty, '--strict'], { encoding: 'utf8' });
    expect(vacuous.status).toBe(1);
    expect(vacuous.stderr).toContain('NOTHING PROVEN: no log lines were written');
    const targeted = spawnSync(process.execPath, [script, empty], { encoding: 'utf8' });
    expect(targeted.status).toBe(0);
  });

  it('refuses to register a secret too short to search for', () => {
    expect(() => registerSecret('provider_api_key', 'sk-test', dir)).toThrow(/shorter than/);
  });
});
