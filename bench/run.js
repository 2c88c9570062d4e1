#!/usr/bin/env node
/* global require, process */
// `npm run bench`: TypeScript runs through tsx, like bin/reverie.js.
require('tsx/cjs');
const { main } = require('./main.ts');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
