#!/usr/bin/env node
'use strict';
/**
 * The log secret check on one test run's directory (scripts/test.js runs it
 * after jest): `node scripts/check-log-secrets.js <run dir> [--strict]`. Exit 1 when a registered secret (or anything shaped
 * like a credential) is in a log, or when a strict (whole-suite) run checked
 * nothing. Findings name the file, line and kind of secret, never its value.
 */
const path = require('node:path');

/** @returns the exit status (0 clean, 1 leak or vacuous strict run). */
async function checkLogs(runDir, { strict }) {
  require('tsx/cjs');
  const { checkLogSecrets, formatReport } = require('../test/helpers/log-secret-check');
  const report = await checkLogSecrets(runDir, { strict });
  process.stderr.write(formatReport(report));
  if (report.leaks.length === 0 && report.problems.length === 0) return 0;
  process.stderr.write(`log secret check failed (logs in ${runDir})\n`);
  return 1;
}

module.exports = { checkLogs };

if (require.main === module) {
  const args = process.argv.slice(2);
  const runDir = args.find((a) => !a.startsWith('--'));
  if (!runDir) {
    process.stderr.write('usage: check-log-secrets.js <run dir> [--strict]\n');
    process.exit(2);
  }
  checkLogs(path.resolve(runDir), { strict: args.includes('--strict') }).then(
    (status) => process.exit(status),
    (err) => {
      process.stderr.write(`log secret check could not run: ${err.stack}\n`);
      process.exit(1);
    },
  );
}
