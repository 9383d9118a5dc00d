// Back-pressure of the native socket: a full socket buffer stops a send batch short (EAGAIN), the
// writable callback fires when there is room, and every datagram still arrives once, in order.
// Needs a queue that holds datagrams: a child in its own network namespace with a slow tbf qdisc on
// its loopback (root, unshare and tc). Where that is impossible the test says why and fails only
// when FERRY_REQUIRE_NATIVE=1 (CI runs as root).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

import { nativeOrFallback, REQUIRE_NATIVE } from './native-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'native-backpressure-child.ts');
/** 64 x 1400 B through 8 Mbit/s takes about 0.1 s; the rest is node start-up. */
const CHILD_TIMEOUT_MS = 30_000;

test('a full socket buffer stops a batch short; awaitWritable resumes it and all 64 datagrams arrive in order', (t) => {
  if (!nativeOrFallback(t)) return;
  const script = [
    'ip link set lo up',
    'tc qdisc add dev lo root tbf rate 8mbit burst 16kb latency 2s',
    `exec "${process.execPath}" --import=tsx "${child}"`,
  ].join(' && ');
  const run = spawnSync('unshare', ['--net', 'sh', '-c', script], {
    encoding: 'utf8',
    timeout: CHILD_TIMEOUT_MS,
  });
  if (run.error || (run.status !== 0 && !run.stdout.trim())) {
    const why = run.error?.message ?? run.stderr.trim().split('\n')[0];
    t.false(REQUIRE_NATIVE, `cannot make a network namespace with a qdisc here: ${why}`);
    t.log(`back-pressure path not exercised (needs root, unshare and tc): ${why}`);
    return;
  }
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
    outcome: string;
    received: number[];
    intact: boolean;
    writableCalls: number;
    shortSends: number;
    wouldBlock: number;
  };
  t.log(
    `${result.shortSends} short sends, ${result.writableCalls} writable callbacks, ${result.wouldBlock} EAGAIN`,
  );
  t.is(result.outcome, 'done', run.stderr);
  t.deepEqual(
    result.received,
    Array.from({ length: 64 }, (_, i) => i),
  );
  t.true(result.intact);
  t.true(result.shortSends > 0, 'the tiny buffer made sends come back short');
  t.is(result.writableCalls, result.shortSends, 'each short send was resumed by one writable callback');
  t.true(result.wouldBlock >= result.shortSends);
});
