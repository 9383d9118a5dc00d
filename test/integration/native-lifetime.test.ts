// Lifetime of native sockets: one dropped without close is collected and its descriptor closed; a
// worker thread that ends with a receiving socket open tears it down cleanly (the addon's environment
// cleanup hook); close() inside the writable callback is safe.
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import test from 'ava';

import { nativeUdpStatus } from '../../src/transport/native/addon.js';
import { NativeUdpSocket } from '../../src/transport/native/native-udp-socket.js';
import { nativeOrFallback } from './native-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD_TIMEOUT_MS = 30_000;
const WORKERS = 3;

/** Open socket descriptors of this process. */
function sockets(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

test('sockets dropped without close are collected and their descriptors closed', (t) => {
  if (!nativeOrFallback(t)) return;
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', '--import=tsx', path.join(here, 'native-lifetime-child.ts')],
    { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS },
  );
  t.is(run.status, 0, run.stderr);
  const { before, open, after } = JSON.parse(run.stdout.trim()) as {
    before: number;
    open: number;
    after: number;
  };
  t.is(open - before, 100);
  t.is(after, before);
});

/** Worker source: opens a receiving socket on the raw addon, reports its port and each batch, never closes. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.file);
const s = new addon.UdpSocket({ family: 4, host: '127.0.0.1', port: 0, reusePort: false, ipv6Only: false,
  sendBufferBytes: 0, recvBufferBytes: 0, pmtud: 2, gro: false });
s.startReceive(new ArrayBuffer(2048 * 4), new Uint32Array(32), 2048, 4, (n) => parentPort.postMessage({ n }));
parentPort.postMessage({ port: s.info().port });
`;

test.serial(
  'a worker thread that ends with a receiving socket open tears it down (no crash, no descriptor left)',
  async (t) => {
    if (!nativeOrFallback(t)) return;
    const tx = NativeUdpSocket.open({ host: '127.0.0.1' });
    t.teardown(() => tx.close());
    const before = sockets();
    for (let i = 0; i < WORKERS; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: nativeUdpStatus().path } });
      const { port } = (await new Promise((r) => w.once('message', r))) as { port: number };
      const got = new Promise((r) => w.once('message', r));
      tx.sendTo(tx.destination('127.0.0.1', port), [Buffer.from('x')]);
      t.deepEqual(await got, { n: 1 });
      await w.terminate();
    }
    t.is(sockets(), before);
  },
);

test('close inside the writable callback', async (t) => {
  if (!nativeOrFallback(t)) return;
  const s = NativeUdpSocket.open({ host: '127.0.0.1' });
  await new Promise<void>((resolve) =>
    s.awaitWritable(() => {
      s.close();
      resolve();
    }),
  );
  t.true(s.closed);
});
