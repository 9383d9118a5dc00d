// The native UDP socket on loopback: round trips (v4, v6), a 64-datagram batch in one sendmmsg,
// scatter-gather slices, GSO into a plain and into a GRO receiver, SO_REUSEPORT, close inside
// callbacks. Without the addon each test checks the reported fallback instead (native-helpers.ts).
import test, { type ExecutionContext } from 'ava';

import { NATIVE_UDP_LIMITS } from '../../src/transport/native/native-limits.js';
import {
  NativeUdpSocket,
  type NativeUdpSocketOptions,
} from '../../src/transport/native/native-udp-socket.js';
import { SendBatch } from '../../src/transport/native/send-batch.js';
import { collect, nativeOrFallback, patterned } from './native-helpers.js';

/** Opens a socket that is closed when the test ends. */
function open(t: ExecutionContext, options: NativeUdpSocketOptions): NativeUdpSocket {
  const s = NativeUdpSocket.open({ recvBufferBytes: 4 << 20, ...options });
  t.teardown(() => s.close());
  return s;
}

for (const host of ['127.0.0.1', '::1']) {
  test(`round trip on ${host}: contents and source address`, async (t) => {
    if (!nativeOrFallback(t)) return;
    const rx = open(t, { host });
    const tx = open(t, { host });
    t.is(rx.family, host === '::1' ? 6 : 4);
    const got = collect(rx, 2);
    t.true(tx.sendTo(tx.destination(host, rx.port), [Buffer.from('hello')]));
    t.true(tx.sendTo(tx.destination(host, rx.port), [patterned(1, 1452)]));
    const r = await got;
    t.deepEqual(r.datagrams[0], Buffer.from('hello'));
    t.deepEqual(r.datagrams[1], patterned(1, 1452));
    t.deepEqual(r.sources, [`${host}:${tx.port}`, `${host}:${tx.port}`]);
    t.is(tx.stats.sentDatagrams, 2);
    t.is(rx.stats.receivedDatagrams, 2);
  });
}

test('a batch of 64 datagrams goes out in one sendmmsg and arrives intact', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '127.0.0.1' });
  const tx = open(t, { host: '127.0.0.1' });
  const to = tx.destination('127.0.0.1', rx.port);
  const batch = new SendBatch(64);
  const sent: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    sent.push(patterned(i, 1452));
    t.true(batch.add(to, sent[i]!));
  }
  t.false(batch.add(to, sent[0]!), 'a full batch says so');
  const got = collect(rx, 64);
  t.is(tx.sendBatch(batch), 64);
  t.is(tx.stats.sendSyscalls, 1);
  t.is(tx.stats.sendBatches, 1);
  const r = await got;
  t.deepEqual(r.datagrams, sent);
  t.true(rx.stats.recvBatches <= 64 && rx.stats.recvBatches >= 1);
});

test('scatter-gather: a header and payload views of a larger buffer go as one datagram, uncopied', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '127.0.0.1' });
  const tx = open(t, { host: '127.0.0.1' });
  const to = tx.destination('127.0.0.1', rx.port);
  const payload = patterned(7, 10_000);
  const header = Buffer.from('HDR:');
  const views = [header, payload.subarray(100, 600), payload.subarray(5000, 5001), payload.subarray(9000)];
  const batch = new SendBatch(4);
  t.true(batch.addv(to, views));
  t.true(batch.add(to, header));
  t.true(batch.append(payload.subarray(0, 10)));
  const got = collect(rx, 2);
  t.is(tx.sendBatch(batch), 2);
  const r = await got;
  t.deepEqual(r.datagrams[0], Buffer.concat(views));
  t.deepEqual(r.datagrams[1], Buffer.concat([header, payload.subarray(0, 10)]));
});

/** 10 segments of 1400 bytes and a 300-byte tail, each segment's content naming it. */
function gsoBuffer(): { whole: Buffer; segments: Buffer[] } {
  const segments: Buffer[] = [];
  for (let i = 0; i < 10; i++) segments.push(patterned(i, 1400));
  segments.push(patterned(10, 300));
  return { whole: Buffer.concat(segments), segments };
}

test('GSO: one 14,300-byte buffer arrives as 11 datagrams of 1400 (the last 300) at a plain receiver', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '127.0.0.1', gro: false, recvSlotBytes: 2048 });
  const tx = open(t, { host: '127.0.0.1' });
  t.true(tx.gso, 'this kernel takes UDP_SEGMENT');
  t.false(rx.gro);
  const { whole, segments } = gsoBuffer();
  const got = collect(rx, 11);
  t.true(tx.sendSegmented(tx.destination('127.0.0.1', rx.port), [whole], 1400));
  const r = await got;
  t.deepEqual(r.datagrams, segments);
  t.is(r.records, 11);
  t.is(tx.stats.sendSyscalls, 1);
  t.is(tx.stats.gsoSends, 1);
});

test('GSO into a GRO receiver: the coalesced record splits back into the same 11 datagrams', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '::1' });
  const tx = open(t, { host: '::1' });
  t.true(rx.gro, 'this kernel takes UDP_GRO');
  const { whole, segments } = gsoBuffer();
  const got = collect(rx, 11);
  // two slices: GSO works on scatter-gather buffers too
  t.true(
    tx.sendSegmented(tx.destination('::1', rx.port), [whole.subarray(0, 5000), whole.subarray(5000)], 1400),
  );
  const r = await got;
  t.deepEqual(r.datagrams, segments);
  t.true(r.records < 11, `coalesced into ${r.records} record(s)`);
  t.true(r.coalesced >= 1);
  t.true(rx.stats.groDatagrams >= 1);
});

test('SO_REUSEPORT: two sockets share a port only when both ask', (t) => {
  if (!nativeOrFallback(t)) return;
  const a = open(t, { host: '127.0.0.1', reusePort: true });
  const b = open(t, { host: '127.0.0.1', port: a.port, reusePort: true });
  t.is(b.port, a.port);
  const err = t.throws(() => open(t, { host: '127.0.0.1', port: a.port }));
  t.is((err as { code?: string }).code, 'BIND_FAILED');
  t.is((err as { details?: { errno?: string } }).details?.errno, 'EADDRINUSE');
  t.regex(err.message, /bind 127\.0\.0\.1:\d+ failed: EADDRINUSE/);
});

test('socket buffers: the granted sizes are read back', (t) => {
  if (!nativeOrFallback(t)) return;
  const s = open(t, { host: '127.0.0.1', sendBufferBytes: 1 << 20, recvBufferBytes: 1 << 20 });
  t.true(s.sendBufferBytes >= 1 << 20, `granted ${s.sendBufferBytes}`); // Linux doubles; root may exceed wmem_max
  t.true(s.recvBufferBytes >= 1 << 20, `granted ${s.recvBufferBytes}`);
});

test('largest datagram on loopback is 65,507 bytes, and such a datagram round-trips', async (t) => {
  if (!nativeOrFallback(t)) return;
  t.is(NativeUdpSocket.maxDatagramBytes('127.0.0.1'), NATIVE_UDP_LIMITS.MAX_DATAGRAM_BYTES);
  t.true(NativeUdpSocket.maxDatagramBytes('::1') >= 65_000);
  const rx = open(t, { host: '127.0.0.1' });
  const tx = open(t, { host: '127.0.0.1' });
  const big = patterned(3, 65_507);
  const got = collect(rx, 1);
  t.true(tx.sendTo(tx.destination('127.0.0.1', rx.port), [big]));
  t.deepEqual((await got).datagrams[0], big);
});

test('close inside the batch callback: no further callbacks, no crash, the peer keeps sending', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = NativeUdpSocket.open({ host: '127.0.0.1', recvBatch: 4, gro: false, recvSlotBytes: 2048 });
  const tx = open(t, { host: '127.0.0.1' });
  const to = tx.destination('127.0.0.1', rx.port);
  let batches = 0;
  const closed = new Promise<void>((resolve) =>
    rx.onBatch((b) => {
      batches++;
      t.true(b.count >= 1);
      rx.close();
      rx.close(); // twice is fine
      resolve();
    }),
  );
  const batch = new SendBatch(64);
  for (let i = 0; i < 64; i++) batch.add(to, patterned(i, 100));
  t.is(tx.sendBatch(batch), 64); // more than one receive round's worth: the loop must stop after close
  await closed;
  tx.sendBatch(batch);
  await new Promise((r) => setTimeout(r, 50));
  t.is(batches, 1);
  t.true(rx.closed);
  const err = t.throws(() => rx.sendBatch(batch));
  t.is((err as { code?: string }).code, 'CLOSED');
  t.throws(() => rx.onBatch(() => {}), { message: /closed/ });
});

test.serial(
  'an exception thrown by the batch callback reaches the process as uncaught, the socket stays usable',
  async (t) => {
    if (!nativeOrFallback(t)) return;
    const rx = open(t, { host: '127.0.0.1' });
    const tx = open(t, { host: '127.0.0.1' });
    const to = tx.destination('127.0.0.1', rx.port);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    t.teardown(() => {
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    });
    const caught = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    let calls = 0;
    rx.onBatch(() => {
      calls++;
      if (calls === 1) throw new Error('boom');
    });
    tx.sendTo(to, [Buffer.from('a')]);
    t.is((await caught).message, 'boom');
    const second = new Promise<void>((resolve) => rx.onBatch(() => resolve()));
    tx.sendTo(to, [Buffer.from('b')]);
    await second;
  },
);

test('a dual-stack IPv6 socket talks to IPv4 peers through IPv4-mapped addresses', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '::' });
  const v4 = open(t, { host: '127.0.0.1' });
  const got = collect(rx, 1);
  t.true(v4.sendTo(v4.destination('127.0.0.1', rx.port), [Buffer.from('from v4')]));
  const r = await got;
  t.deepEqual(r.datagrams[0], Buffer.from('from v4'));
  t.deepEqual(r.sources, [`::ffff:127.0.0.1:${v4.port}`]);
  // and back: an IPv4 host on the IPv6 socket is mapped when parsed
  const back = collect(v4, 1);
  t.true(rx.sendTo(rx.destination('127.0.0.1', v4.port), [Buffer.from('from v6')]));
  t.deepEqual((await back).sources, [`127.0.0.1:${rx.port}`]);
});

test('a backlog larger than one wake-up (batch x MAX_RECV_ROUNDS) is drained over several turns of the loop', async (t) => {
  if (!nativeOrFallback(t)) return;
  const rx = open(t, { host: '127.0.0.1', recvBatch: 4, gro: false, recvSlotBytes: 2048 });
  const tx = open(t, { host: '127.0.0.1' });
  const to = tx.destination('127.0.0.1', rx.port);
  const total = 1000; // 4 x 8 = 32 datagrams per wake-up at most
  const got = collect(rx, total);
  const batch = new SendBatch(100);
  const sent: Buffer[] = [];
  for (let k = 0; k < total / 100; k++) {
    batch.clear();
    for (let i = 0; i < 100; i++) {
      sent.push(patterned(k * 100 + i, 200));
      batch.add(to, sent[sent.length - 1]!);
    }
    t.is(tx.sendBatch(batch), 100);
  }
  const r = await got;
  t.deepEqual(r.datagrams, sent);
  t.true(rx.stats.recvBatches >= total / 4);
});
