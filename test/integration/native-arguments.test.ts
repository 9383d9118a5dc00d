// Bad arguments to the native socket fail with clear FerryErrors (INVALID_ARGUMENT, BIND_FAILED,
// NOT_SUPPORTED, CLOSED) and change nothing; the raw addon refuses what the TypeScript layer would
// never pass (wrong types, counts beyond the limits) with TypeError/RangeError instead of crashing.
import test from 'ava';

import { isFerryError } from '../../src/core/errors.js';
import { loadNativeUdp, type RawUdpSocket } from '../../src/transport/native/addon.js';
import { NATIVE_UDP_LIMITS } from '../../src/transport/native/native-limits.js';
import { NativeUdpSocket } from '../../src/transport/native/native-udp-socket.js';
import { SendBatch } from '../../src/transport/native/send-batch.js';
import { nativeOrFallback } from './native-helpers.js';

const L = NATIVE_UDP_LIMITS;

test('open refuses bad options with INVALID_ARGUMENT naming the option', (t) => {
  if (!nativeOrFallback(t)) return;
  const cases: [Parameters<typeof NativeUdpSocket.open>[0], RegExp][] = [
    [{ host: 'localhost' }, /numeric/],
    [{ host: '127.0.0.1', port: 65536 }, /port/],
    [{ host: '127.0.0.1', port: -1 }, /port/],
    [{ host: '127.0.0.1', recvBatch: 0 }, /recvBatch/],
    [{ host: '127.0.0.1', recvBatch: L.MAX_RECV_BATCH + 1 }, /recvBatch/],
    [{ host: '127.0.0.1', recvSlotBytes: 100, gro: false }, /recvSlotBytes/],
    [{ host: '127.0.0.1', recvSlotBytes: 2048 }, /gro needs recvSlotBytes/],
    [{ host: '127.0.0.1', sendBufferBytes: L.MAX_SOCKET_BUFFER_BYTES + 1 }, /sendBufferBytes/],
    [{ host: '127.0.0.1', pmtud: 'sometimes' as 'probe' }, /pmtud/],
  ];
  for (const [options, message] of cases) {
    const err = t.throws(() => NativeUdpSocket.open(options));
    t.true(isFerryError(err, 'INVALID_ARGUMENT'), JSON.stringify(options));
    t.regex(err.message, message);
  }
});

test('binding an address this machine does not have fails with BIND_FAILED and the errno name', (t) => {
  if (!nativeOrFallback(t)) return;
  const err = t.throws(() => NativeUdpSocket.open({ host: '192.0.2.1' }));
  t.true(isFerryError(err, 'BIND_FAILED'));
  t.is((err as { details?: { errno?: string } }).details?.errno, 'EADDRNOTAVAIL');
});

test('send-side misuse: wrong family, too many GSO segments, a closed socket', (t) => {
  if (!nativeOrFallback(t)) return;
  const v4 = NativeUdpSocket.open({ host: '127.0.0.1' });
  const v6 = NativeUdpSocket.open({ host: '::1' });
  t.teardown(() => {
    v4.close();
    v6.close();
  });
  t.true(
    isFerryError(
      t.throws(() => v4.destination('::1', 9)),
      'INVALID_ARGUMENT',
    ),
  );
  // a destination parsed for the IPv6 socket handed to the IPv4 one: the addon refuses it
  const wrong = new SendBatch(1);
  wrong.add(v6.destination('::1', 9), new Uint8Array(1));
  const err = t.throws(() => v4.sendBatch(wrong));
  t.true(isFerryError(err, 'INVALID_ARGUMENT'));
  t.regex(err.message, /family/);
  const to = v4.destination('127.0.0.1', 9);
  const big = new Uint8Array(L.MAX_DATAGRAM_BYTES + 1);
  t.true(
    isFerryError(
      t.throws(() => v4.sendSegmented(to, [big], 1400)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => v4.sendSegmented(to, [new Uint8Array(65 * 100)], 100)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => v4.sendSegmented(to, [new Uint8Array(10)], 0)),
      'INVALID_ARGUMENT',
    ),
  );
  v4.close();
  t.true(
    isFerryError(
      t.throws(() => v4.sendTo(to, [new Uint8Array(1)])),
      'CLOSED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => v4.awaitWritable(() => {})),
      'CLOSED',
    ),
  );
});

test('a datagram the kernel refuses counts as lost in the stats, the rest of the batch still goes', (t) => {
  if (!nativeOrFallback(t)) return;
  const s = NativeUdpSocket.open({ host: '127.0.0.1' });
  t.teardown(() => s.close());
  const to = s.destination('127.0.0.1', s.port);
  const b = new SendBatch(3);
  b.add(to, new Uint8Array(10));
  b.add(to, new Uint8Array(L.MAX_DATAGRAM_BYTES + 1)); // EMSGSIZE
  b.add(to, new Uint8Array(10));
  t.is(s.sendBatch(b), 3);
  t.is(s.stats.sendErrors, 1);
  t.is(s.stats.lastSendError, 'EMSGSIZE');
  t.is(s.stats.sentDatagrams, 2);
});

test('the raw addon refuses wrong types and counts beyond its limits', (t) => {
  if (!nativeOrFallback(t)) return;
  const addon = loadNativeUdp().addon!;
  const raw: RawUdpSocket = new addon.UdpSocket({
    family: 4,
    host: '127.0.0.1',
    port: 0,
    reusePort: false,
    ipv6Only: false,
    sendBufferBytes: 0,
    recvBufferBytes: 0,
    pmtud: 2,
    gro: false,
  });
  t.teardown(() => raw.close());
  const desc = new Uint32Array(L.DESC_STRIDE * 2);
  desc[0] = 1;
  desc[1] = 9;
  new Uint8Array(desc.buffer, 8, 4).set([127, 0, 0, 1]);
  const asAny = raw as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.throws(() => asAny.sendBatch!(['text'], desc, 1), {
    instanceOf: TypeError,
    message: /slice 0 is not a Uint8Array/,
  });
  t.throws(() => asAny.sendBatch!([new Uint16Array(2)], desc, 1), { instanceOf: TypeError });
  t.throws(() => asAny.sendBatch!([], desc, 1), { instanceOf: RangeError, message: /more slices/ });
  t.throws(() => asAny.sendBatch!([new Uint8Array(1)], desc, 2), { instanceOf: RangeError });
  t.throws(() => asAny.sendBatch!([new Uint8Array(1)], desc, L.MAX_SEND_BATCH + 1), {
    instanceOf: RangeError,
  });
  desc[0] = L.MAX_SLICES_PER_DATAGRAM + 1;
  t.throws(() => asAny.sendBatch!([new Uint8Array(1)], desc, 1), { instanceOf: RangeError });
  const slab = new ArrayBuffer(4096);
  t.throws(() => raw.startReceive(slab, new Uint32Array(8), 4096, 2, () => {}), { instanceOf: RangeError });
  t.throws(() => asAny.startReceive!(slab, new Int32Array(8), 4096, 1, () => {}), { instanceOf: TypeError });
  t.throws(() => raw.startReceive(slab, new Uint32Array(8), 100, 1, () => {}), { instanceOf: RangeError });
  t.throws(() => asAny.startReceive!(slab, new Uint32Array(8), 4096, 1, 'f'), { instanceOf: TypeError });
  t.throws(() => new addon.UdpSocket({ host: '127.0.0.1', family: 5 } as never), { instanceOf: RangeError });
  t.throws(() => new (addon.UdpSocket as unknown as new (o: unknown) => unknown)(null), {
    instanceOf: TypeError,
  });
  t.throws(() => addon.routeMtu(4, 'not-an-ip', 9), { message: /EINVAL/ });
});
