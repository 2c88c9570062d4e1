#!/usr/bin/env node
'use strict';
/**
 * `npm test`: install the embedded stack's tools first (one time, cached) so a
 * missing prerequisite fails with one clear sentence before jest starts, then
 * run jest with the arguments passed through (`npm test -- test/unit`).
 */
const path = require('node:path');
const os = require('node:os');
const { spawn, spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

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
  jest.on('exit', (code, signal) => {
    const status = code ?? 128 + (os.constants.signals[signal] || 0);
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
