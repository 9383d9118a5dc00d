#!/usr/bin/env node
// Builds ferry's native UDP addon (native/, binding.gyp) at install time, and never fails the install:
// the JavaScript socket path is the fallback, so any failure prints one warning line and exits 0.
//
// Runs node-gyp (the copy npm bundles, or the one npm names in npm_config_node_gyp) against the
// headers installed with this Node (`<prefix>/include/node`, e.g. /usr/include/node): node-gyp must
// never try to download headers, which fails offline. Without those headers, or off Linux, it skips.
// FERRY_SKIP_NATIVE=1 skips the build; FERRY_NATIVE_BUILD_VERBOSE=1 shows node-gyp's output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A cold build of the two C files takes a few seconds; past this something is stuck. */
const BUILD_TIMEOUT_MS = 180_000;

function warn(reason) {
  console.warn(`ferry: native UDP addon not built (${reason}); the JavaScript socket path will be used`);
  process.exit(0);
}

function nodeGypScript() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
    process.env.npm_execpath &&
      path.join(
        path.dirname(process.env.npm_execpath),
        '..',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
  ];
  return candidates.find((p) => p && p.endsWith('.js') && existsSync(p));
}

function main() {
  if (process.env.FERRY_SKIP_NATIVE === '1') warn('FERRY_SKIP_NATIVE=1');
  if (process.platform !== 'linux') warn(`sendmmsg/GSO are Linux-only, this is ${process.platform}`);
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h')))
    warn(`no Node headers at ${path.join(nodedir, 'include', 'node')}`);
  const gyp = nodeGypScript();
  if (!gyp) warn('node-gyp not found next to npm');
  const verbose = process.env.FERRY_NATIVE_BUILD_VERBOSE === '1';
  const run = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], {
    cwd: root,
    stdio: verbose ? 'inherit' : 'pipe',
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  if (run.error) warn(`node-gyp could not run: ${run.error.message}`);
  if (run.status !== 0) {
    const lines = `${run.stderr ?? ''}`
      .split('\n')
      .filter((l) => /error/i.test(l) && !/^gyp (info|ERR! (stack|cwd|node|System|command|not ok))/.test(l));
    warn(`node-gyp exited with ${run.status ?? run.signal}${lines[0] ? `: ${lines[0].trim()}` : ''}`);
  }
  if (!existsSync(path.join(root, 'build', 'Release', 'ferry_udp.node')))
    warn('node-gyp produced no build/Release/ferry_udp.node');
}

try {
  main();
} catch (err) {
  warn(err instanceof Error ? err.message : String(err));
}
