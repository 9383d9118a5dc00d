#!/usr/bin/env node
// The installed entry point: runs the compiled command line (npm run build makes dist/).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
