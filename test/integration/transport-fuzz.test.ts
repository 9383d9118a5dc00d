/**
 * Throws 100 000 random and mutated datagrams at a live endpoint that has a real session, then checks
 * that nothing was delivered from them, that a real exchange still works, and that memory (heap,
 * sessions, half-open handshakes, reassembly) is back where it was.
 */
import test from 'ava';
import dgram from 'node:dgram';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Endpoint } from '../../src/transport/endpoint.js';
import { encodePacket, type PacketFields } from '../../src/wire/packet-codec.js';
import { PacketType } from '../../src/wire/packet-layout.js';
import { encodeHello } from '../../src/wire/control-bodies.js';
import { xxh32 } from '../../src/core/checksum.js';
import { prng, testSeed } from '../helpers/exchange.js';

const DATAGRAMS = 100_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** One fuzz datagram: random bytes, a valid packet of random fields, or a mutation of one. */
function fuzzDatagram(rand: () => number): Buffer {
  const kind = rand();
  const int = (n: number): number => Math.floor(rand() * n);
  if (kind < 0.3) {
    const b = Buffer.alloc(int(1600));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    if (b.length >= 3 && rand() < 0.5) b.writeUInt16BE(0x4659, 0); // get past the magic
    if (b.length >= 3 && rand() < 0.5) b[2] = 1;
    return b;
  }
  const type = 1 + int(9);
  const f: PacketFields = {
    type,
    flags: int(8),
    connectionId: BigInt(1 + int(2 ** 31)) * BigInt(1 + int(2 ** 31)),
    packetNumber: int(2 ** 40),
    cumulativeAck: int(2 ** 20),
    leastUnacked: int(2 ** 40),
    receiveWindow: int(2 ** 32),
    payload: Buffer.alloc(int(200), int(256)),
  };
  if (type === PacketType.DATA) {
    const messageLength = int(2 ** 31);
    const fifo = rand() < 0.5;
    f.flags = rand() < 0.1 ? int(8) : 0; // DATA has no packet flags: some malformed on purpose
    f.data = {
      messageSeq: 1 + int(100),
      fifoSeq: fifo ? 1 + int(100) : 0,
      messageLength,
      fragmentOffset: int(messageLength),
      fragmentIndex: int(2 ** 20),
      fragmentCount: 1 + int(2 ** 21),
    };
  }
  if (type === PacketType.HELLO && rand() < 0.7) {
    f.connectionId = 0n;
    f.payload = encodeHello({
      sourceConnectionId: BigInt(1 + int(2 ** 31)),
      incarnation: int(2 ** 40),
      nonce: Buffer.alloc(16, int(256)),
      maxPacketBytes: 1200 + int(60_000),
    });
  }
  const packet = encodePacket(f);
  if (kind < 0.6) return packet;
  // mutate: flip bytes, truncate or extend; reseal the checksum half the time so semantics are hit
  const m = rand() < 0.2 ? packet.subarray(0, int(packet.length)) : Buffer.from(packet);
  for (let i = int(4); i >= 0 && m.length > 0; i--) m[int(m.length)] = int(256);
  const out = rand() < 0.1 ? Buffer.concat([m, Buffer.alloc(int(100))]) : m;
  if (out.length >= 48 && rand() < 0.5) {
    out.writeUInt32BE(0, 44);
    out.writeUInt32BE(xxh32(out), 44);
  }
  return out;
}

test('100 000 random and mutated datagrams: nothing delivered, endpoint intact, memory back', async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
  const rand = prng(seed);
  const server = await Endpoint.create({ impair: null, config: 'handshakeTimeoutMs=300' });
  t.teardown(() => server.close());
  const client = await Endpoint.create({ impair: null });
  t.teardown(() => client.close());
  const got: Buffer[] = [];
  server.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await client.connect(server.address);
  await client.send(peer, Buffer.from('before')).delivered;
  got.length = 0;
  const heapBefore = heapUsed();

  const raw = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  t.teardown(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
  raw.on('message', () => {}); // RESETs and CHALLENGEs come back; ignore them
  for (let i = 0; i < DATAGRAMS; i++) {
    const d = fuzzDatagram(rand);
    // paced so the endpoint (same process) drains its socket: the point is what it does with them
    if (i % 16 === 15) {
      await new Promise<void>((resolve) => raw.send(d, server.address.port, '127.0.0.1', () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
    } else raw.send(d, server.address.port, '127.0.0.1');
  }
  await new Promise((resolve) => setTimeout(resolve, 800)); // half-open handshakes expire (300 ms)

  const s = server.stats();
  t.true(s.packetsReceived > DATAGRAMS * 0.9, `received ${s.packetsReceived}`);
  for (const reason of ['malformed', 'badChecksum', 'badVersion', 'unknownSession'] as const) {
    t.true(s.dropped[reason] > 0, `some dropped as ${reason}`);
  }
  t.deepEqual(got, [], `seed ${seed}: nothing from the fuzz reached the application`);
  t.is(server.peers().length, 1, 'no session was created by the fuzz');

  // a real exchange still works
  const payloads = Array.from({ length: 100 }, (_, i) => Buffer.alloc(i * 997, i));
  payloads.push(Buffer.alloc(1 << 20, 9));
  await Promise.all(payloads.map((p) => client.send(peer, p, { mode: 'fifo' }).delivered));
  t.is(got.length, payloads.length);
  t.true(got.every((g, i) => g.equals(payloads[i]!)));

  got.length = 0;
  const mem = server.memoryStats();
  t.deepEqual(
    [mem.sessions, mem.pendingHandshakes, mem.partialMessages, mem.reassemblyBytes],
    [1, 0, 0, 0],
    `seed ${seed}: sessions, half-open handshakes and reassembly back to idle`,
  );
  const grownBytes = heapUsed() - heapBefore;
  t.true(grownBytes < 8 << 20, `seed ${seed}: heap grew by ${grownBytes} bytes`);
});
