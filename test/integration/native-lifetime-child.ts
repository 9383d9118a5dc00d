/**
 * Run by native-lifetime.test.ts with --expose-gc: opens sockets it never closes, drops them, and
 * prints the process's socket descriptor counts before, with them open, and after collection, as JSON.
 */
import { readdirSync, readlinkSync } from 'node:fs';

import { nativeUdpStatus } from '../../src/transport/native/addon.js';
import { NativeUdpSocket } from '../../src/transport/native/native-udp-socket.js';

const SOCKETS = 100;
const GC_ROUNDS = 5;
/** Open socket descriptors (other descriptors, such as tsx's cache files, come and go). */
const fds = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
const gc = (globalThis as { gc?: () => void }).gc!;

nativeUdpStatus(); // load the addon (and probe the kernel) before counting
await new Promise((r) => setTimeout(r, 50));
const before = fds();
for (let i = 0; i < SOCKETS; i++) NativeUdpSocket.open({ host: i % 2 ? '::1' : '127.0.0.1' });
const open = fds();
for (let i = 0; i < GC_ROUNDS; i++) {
  gc();
  await new Promise((r) => setImmediate(r));
}
console.log(JSON.stringify({ before, open, after: fds() }));
