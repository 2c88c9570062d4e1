#!/usr/bin/env node
// The `reverie` command. TypeScript runs through tsx, so there is no build step.
require('tsx/cjs');
const { main } = require('../src/cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`reverie: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
