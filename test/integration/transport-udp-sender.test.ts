/**
 * The dgram sender (udp/udp-sender.ts): sends through dgram's native handle once it learned dgram's
 * request type (without `process.binding`, so no deprecation warning under `--pending-deprecation`),
 * and a send the socket refuses is an error, counted, on either path (never taken as sent).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { UdpSender } from '../../src/transport/udp/udp-sender.js';

const CHILD = fileURLToPath(new URL('./transport-udp-sender-child.ts', import.meta.url));

async function bound(t: import('ava').ExecutionContext): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

test('sends go through the native handle once learned, and arrive', async (t) => {
  const from = await bound(t);
  const to = await bound(t);
  const got: Buffer[] = [];
  to.on('message', (m) => got.push(m));
  const sender = new UdpSender(from, () => {});
  await turn();
  t.true(sender.native, "dgram's handle and request type were found");
  sender.send([Buffer.from('head'), Buffer.from('-tail')], 2, to.address().port, '127.0.0.1');
  for (let i = 0; i < 100 && got.length === 0; i++) await turn();
  t.is(got[0]?.toString(), 'head-tail');
  t.is(sender.sendErrors, 0);
});

for (const useNative of [true, false]) {
  test(`a send the socket refuses is counted as an error (${useNative ? 'native handle' : 'socket.send'})`, async (t) => {
    const socket = await bound(t);
    let done = 0;
    const sender = new UdpSender(socket, () => done++, useNative);
    await turn();
    t.is(sender.native, useNative);
    // an IPv6 destination on an IPv4 socket: EINVAL from the handle, an error in dgram's callback
    sender.send([Buffer.from('x')], 1, 9, '::1');
    for (let i = 0; i < 100 && sender.sendErrors === 0; i++) await turn();
    t.is(sender.sendErrors, 1);
    t.is(done, 1, 'finished like a completed send: its buffers are free');
  });
}

test('no deprecation warning under --pending-deprecation (no process.binding)', async (t) => {
  const child = spawn(process.execPath, ['--pending-deprecation', '--import', 'tsx', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 0, err);
  t.is(out.trim(), 'native true');
  t.notRegex(err, /DeprecationWarning|DEP0111/);
});
