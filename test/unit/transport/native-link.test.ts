// NativeLink over two real native sockets on loopback: runs of equal-sized packets to one peer leave as
// GSO datagrams whose segments are exactly one packet each, every sealed datagram arrives intact and
// opens, header buffers go back to the pool once their batch went, and received views are handed up
// one call per datagram (GRO runs split). Skipped without the addon unless FERRY_REQUIRE_NATIVE=1.
import test from 'ava';

import { nativeUdpStatus } from '../../../src/transport/native/addon.js';
import { NativeUdpSocket } from '../../../src/transport/native/native-udp-socket.js';
import { openDatagram } from '../../../src/transport/seal.js';
import { zeroPeerStats } from '../../../src/transport/stats.js';
import { NativeLink } from '../../../src/transport/udp/native-link.js';
import { PacketView, writeHeader } from '../../../src/wire/packet-codec.js';
import { HEADER_BYTES, PacketType } from '../../../src/wire/packet-layout.js';
import { socketRuns } from '../../helpers/transport.js';

const it = socketRuns('native') ? test.serial : test.serial.skip;
const PACKET_BYTES = 1452;
const PAYLOAD_BYTES = PACKET_BYTES - HEADER_BYTES;

function pair(): { tx: NativeUdpSocket; rx: NativeUdpSocket } {
  const tx = NativeUdpSocket.open({ host: '127.0.0.1' });
  const rx = NativeUdpSocket.open({ host: '127.0.0.1' });
  return { tx, rx };
}

/** A DATA-typed header in `buf` whose packet number names the packet (payload follows as a slice). */
function header(buf: Buffer, pn: number, payloadBytes: number): number {
  writeHeader(buf, PacketType.DATA, 0, 0, payloadBytes, 1, 2, pn, 0, 0, 0);
  return HEADER_BYTES;
}

it('runs of equal packets go as GSO datagrams; each arrives whole, opens and names its packet; the pool is whole again', async (t) => {
  t.true(nativeUdpStatus().available, nativeUdpStatus().reason);
  const { tx, rx } = pair();
  t.teardown(() => {
    tx.close();
    rx.close();
  });
  const counters = { packetsSent: 0, bytesSent: 0 };
  const link = new NativeLink(tx, PACKET_BYTES, 1 << 20, counters, () => {});
  const got: { pn: number; length: number; byte: number }[] = [];
  const view = new PacketView();
  const rxLink = new NativeLink(rx, PACKET_BYTES, 1 << 20, { packetsSent: 0, bytesSent: 0 }, () => {});
  rxLink.startReceiving({
    onDatagram(d) {
      const status = openDatagram(view, d);
      got.push({
        pn: status === 'badChecksum' ? -1 : view.packetNumber,
        length: d.length,
        byte: d[d.length - 1]!,
      });
    },
  });
  const to = { host: '127.0.0.1', port: rx.port };
  const stats = zeroPeerStats();
  const payloads = Array.from({ length: 100 }, (_, i) => Buffer.alloc(PAYLOAD_BYTES, i));
  // 99 full packets and a short last one, all in one flush
  for (let i = 0; i < 100; i++) {
    const buf = link.acquire()!;
    const p = i === 99 ? payloads[i]!.subarray(0, 100) : payloads[i]!;
    link.send(stats, to, buf, header(buf, i + 1, p.length), [p], 1, null);
  }
  link.flush();
  const deadline = Date.now() + 5000;
  while (got.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.is(got.length, 100);
  t.deepEqual(
    got.map((g) => g.pn),
    Array.from({ length: 100 }, (_, i) => i + 1),
    'every datagram passed its seal check and came in order',
  );
  t.true(got.slice(0, 99).every((g) => g.length === PACKET_BYTES));
  t.is(got[99]!.length, HEADER_BYTES + 100);
  t.true(got.every((g, i) => g.byte === i));
  t.is(stats.packetsSent, 100);
  t.is(counters.packetsSent, 100);
  const s = tx.stats;
  if (tx.gso) {
    t.true(s.gsoSends > 0, 'runs went as GSO datagrams');
    t.true(s.sentDatagrams < 100, `${s.sentDatagrams} sendmmsg entries for 100 packets`);
  }
  t.is(s.sendSyscalls, 1, 'one flush, one sendmmsg');
  // the pool has every buffer back: a whole pool's worth can be acquired again
  const held: Buffer[] = [];
  for (let b = link.acquire(); b; b = link.acquire()) held.push(b);
  t.is(held.length, Math.floor((1 << 20) / PACKET_BYTES));
});

it('a lone larger datagram (a probe) never takes a smaller packet into its GSO run', (t) => {
  const { tx, rx } = pair();
  t.teardown(() => {
    tx.close();
    rx.close();
  });
  if (!tx.gso) return t.pass('no GSO here');
  const link = new NativeLink(tx, 9000, 1 << 20, { packetsSent: 0, bytesSent: 0 }, () => {});
  const to = { host: '127.0.0.1', port: rx.port };
  const stats = zeroPeerStats();
  const probe = link.acquire()!;
  link.send(stats, to, probe, header(probe, 1, 0), [Buffer.alloc(8000)], 1, null);
  const data = link.acquire()!;
  link.send(stats, to, data, header(data, 2, 0), [Buffer.alloc(1000)], 1, null);
  link.flush();
  t.is(tx.stats.gsoSends, 0);
  t.is(tx.stats.sentDatagrams, 2);
});
