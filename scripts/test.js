#!/usr/bin/env node
'use strict';
/**
 * `npm test`: install the embedded stack's tools first (one time, cached) so a
 * missing prerequisite fails with one clear sentence before jest starts, then
 * run jest with the arguments passed through (`npm test -- test/unit`).
 * Every log the tests write goes under one directory per run; after jest, the
 * log secret check greps them all for every secret the tests registered
 * (test/helpers/test-logs.ts, test/helpers/log-secret-check.ts).
 */
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { spawn, spawnSync } = require('node:child_process');
const { checkLogs } = require('./check-log-secrets');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const RUNS_KEPT = 3;

/** A fresh `.reverie/test-runs/<time>-<pid>` for this run's logs and secrets; older runs pruned. */
function makeRunDir() {
  const runs = path.join(root, '.reverie', 'test-runs');
  fs.mkdirSync(runs, { recursive: true });
  const old = fs
    .readdirSync(runs)
    .filter((name) => /^\d{8}T\d{6}-\d+$/.test(name))
    .sort();
  for (const name of old.slice(0, Math.max(0, old.length - (RUNS_KEPT - 1))))
    fs.rmSync(path.join(runs, name), { recursive: true, force: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const dir = path.join(runs, `${stamp}-${process.pid}`);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  return dir;
}

/**
 * Whether this run is the whole suite, which must have registered secrets and
 * written logs of every producer (else the check would pass vacuously).
 */
function isWholeSuite() {
  const files = args.filter((a) => !a.startsWith('-'));
  const filtering = args.some((a) =>
    /^(-t|--testNamePattern|--selectProjects|-o|--onlyChanged|--findRelatedTests)/.test(a),
  );
  return !filtering && files.every((f) => ['test', 'test/', './test'].includes(f));
}

async function main() {
  require('tsx/cjs');
  const { provisionTools, StackPrerequisiteError } = require('../src/stack');
  try {
    await provisionTools(root);
  } catch (err) {
    if (err instanceof StackPrerequisiteError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  // A full run (no file arguments) type-checks first: the test transform (swc) does not.
  const fullRun = !args.some((a) => !a.startsWith('-'));
  if (fullRun) {
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '-p',
        'tsconfig.json',
      ],
      { cwd: root, stdio: 'inherit' },
    );
    if (tsc.status !== 0) {
      process.stderr.write('type check failed (tsc --noEmit)\n');
      process.exit(tsc.status ?? 1);
    }
  }

  const runDir = makeRunDir();
  process.env.REVERIE_TEST_RUN_DIR = runDir;

  const parallelism = args.some((a) => /^(--maxWorkers|-w|--runInBand|-i$)/.test(a))
    ? []
    : ['--maxWorkers=2'];
  const jest = spawn(path.join(root, 'node_modules', '.bin', 'jest'), [...parallelism, ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  // Ctrl-C already reaches jest through the terminal; a SIGTERM sent to us alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => jest.kill('SIGTERM'));
  jest.on('exit', async (code, signal) => {
    const jestStatus = code ?? 128 + (os.constants.signals[signal] || 0);
    const logStatus = await checkLogs(runDir, { strict: isWholeSuite() }).catch((err) => {
      process.stderr.write(`log secret check could not run: ${err.stack}\n`);
      return 1;
    });
    const status = jestStatus || logStatus;
    if (status !== 0 || !fullRun) process.exit(status);
    // A full run ends with the benchmark smoke: every scenario must still run.
    // Its targets are reported, never asserted (speed is measured, not tested).
    const bench = spawnSync(
      process.execPath,
      [path.join(root, 'bench', 'run.js'), '--quick', '--no-save'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
    if (bench.status !== 0)
      process.stderr.write('benchmark smoke failed (npm run bench -- --quick)\n');
    process.exit(bench.status ?? 1);
  });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
