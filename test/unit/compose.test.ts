import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';

/**
 * docker-compose.yml must validate with Debian's docker-compose v1 (1.29), the
 * oldest CLI we support. When the CLI is missing the test installs it through
 * scripts/ensure-docker-compose.sh rather than skipping, so CI proves the file
 * on every run.
 */

const ROOT = path.resolve(__dirname, '../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const ENSURE_SCRIPT = path.join(ROOT, 'scripts/ensure-docker-compose.sh');
const INSTALL_TIMEOUT_MS = 10 * 60_000;

const REQUIRED_SERVICES = ['postgres', 'temporal', 'temporal-ui', 'minio', 'api', 'worker'];

function run(command: string, args: string[], timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout });
}

function compose(...args: string[]): SpawnSyncReturns<string> {
  return run('docker-compose', ['-f', COMPOSE_FILE, ...args]);
}

function describeFailure(result: SpawnSyncReturns<string>): string {
  if (result.error) return result.error.message;
  // apt-get logs a lot; the cause is at the end.
  const output = (result.stderr.trim() || result.stdout.trim()).slice(-4000);
  return `exit ${String(result.status)}: ${output}`;
}

/**
 * The YAML block of one service in `docker-compose config` output, which is
 * normalised (two-space indent, one key per line), so a line scan is enough.
 */
function serviceBlock(config: string, name: string): string {
  const lines = config.split('\n');
  const servicesAt = lines.findIndex((line) => line === 'services:');
  if (servicesAt === -1) throw new Error('no top-level services: key in compose config output');
  const start = lines.findIndex((line, i) => i > servicesAt && line === `  ${name}:`);
  if (start === -1) throw new Error(`service ${name} not found in compose config output`);
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() !== '' && !line.startsWith('   ')) break;
    block.push(line);
  }
  return block.join('\n');
}

beforeAll(() => {
  if (!run('docker-compose', ['version']).error) return;
  const started = Date.now();
  const install = run('bash', [ENSURE_SCRIPT], INSTALL_TIMEOUT_MS);
  if (install.status !== 0) {
    throw new Error(
      `docker-compose is required and could not be installed by ${ENSURE_SCRIPT}: ${describeFailure(install)}`,
    );
  }
  process.stderr.write(`compose.test: installed docker-compose in ${Date.now() - started} ms\n`);
}, INSTALL_TIMEOUT_MS + 10_000);

describe('docker-compose.yml', () => {
  let config = '';

  beforeAll(() => {
    const result = compose('config');
    if (result.status !== 0)
      throw new Error(`docker-compose config failed: ${describeFailure(result)}`);
    config = result.stdout;
  });

  it('validates with docker-compose config -q', () => {
    const result = compose('config', '-q');
    expect(result.error).toBeUndefined();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('defines every service of the deployment', () => {
    const result = compose('config', '--services');
    expect(result.status).toBe(0);
    const services = result.stdout.split('\n').filter(Boolean);
    expect(services).toEqual(expect.arrayContaining(REQUIRED_SERVICES));
  });

  it.each([
    ['api', 'api'],
    ['worker', 'worker'],
    ['migrate', 'migrate'],
  ])('builds %s from the Dockerfile and runs bin/reverie.js %s', (service, subcommand) => {
    const block = serviceBlock(config, service);
    expect(block).toMatch(/^ {4}build:\n {6}context: (.+)\n {6}dockerfile: Dockerfile$/m);
    expect(block).toContain(`      context: ${ROOT}\n`);
    expect(block).toMatch(
      new RegExp(`^ {4}command:\n {4}- node\n {4}- bin/reverie\\.js\n {4}- ${subcommand}$`, 'm'),
    );
  });

  it('waits for healthy dependencies and finished one-shots before starting the app', () => {
    for (const service of ['api', 'worker']) {
      const block = serviceBlock(config, service);
      expect(block).toMatch(/^ {6}postgres:\n {8}condition: service_healthy$/m);
      expect(block).toMatch(/^ {6}temporal:\n {8}condition: service_healthy$/m);
      expect(block).toMatch(/^ {6}migrate:\n {8}condition: service_completed_successfully$/m);
      expect(block).toMatch(/^ {6}minio-init:\n {8}condition: service_completed_successfully$/m);
    }
  });

  it('gives the app its environment', () => {
    const block = serviceBlock(config, 'api');
    for (const [key, value] of [
      ['TEMPORAL_ADDRESS', 'temporal:7233'],
      ['TEMPORAL_NAMESPACE', 'default'],
      ['BLOB_DRIVER', 's3'],
      ['S3_ENDPOINT', 'http://minio:9000'],
      ['HOST', '0.0.0.0'],
    ]) {
      expect(block).toContain(`      ${key}: ${value}\n`);
    }
    expect(block).toMatch(/^ {6}DATABASE_URL: postgres:\/\/.+@postgres:5432\/reverie$/m);
    // Quoting of scalars differs between compose CLIs; the value does not.
    expect(block).toMatch(/^ {6}PORT: (['"]?)8080\1$/m);
    expect(block).toMatch(/^ {6}EMBEDDING_DIM: (['"]?)384\1$/m);
    expect(block).toMatch(/^ {6}S3_FORCE_PATH_STYLE: (['"]?)true\1$/m);
    expect(block).toMatch(/^ {6}OPENAI_API_KEY: /m);
    expect(block).toMatch(/^ {6}LLM_BASE_URL: /m);
  });

  it('registers the Temporal search attributes and exposes the UI on 8233', () => {
    const admin = serviceBlock(config, 'temporal-admin-tools');
    for (const name of ['TenantId', 'UserId', 'SessionId', 'RunKind'])
      expect(admin).toContain(name);
    expect(admin).toContain('--type Keyword');
    const ui = serviceBlock(config, 'temporal-ui');
    expect(ui).toMatch(/published: 8233\n {6}target: 8080/);
    expect(ui).toContain('TEMPORAL_ADDRESS: temporal:7233');
  });
});
