/**
 * Fuzzing a live endpoint that has a real session, with what each transport's wire takes: 100 000
 * random and mutated datagrams at UDP; 100 000 structure-aware datagrams from inside a session
 * (valid headers, made-up and mutated records and fragments: bench/transport/session-fuzz.ts, whose
 * benchmark run sends 1 000 000); random and mutated frame streams on 2000 real connections at TCP
 * (before the handshake, during it, and after an honest one). The checks after the fuzz are one
 * (helpers/fuzz.ts): nothing delivered under the real peer's name, only the real session left, a real
 * exchange still works, memory back. One fuzzer at a time: the heap is measured per process.
 */
import test from 'ava';
import net from 'node:net';
import { xxh32, type PeerAddress } from '../../src/index.js';
import { fuzzVerdict, runSessionFuzz } from '../../bench/transport/session-fuzz.js';
import { checkAfterFuzz, fuzzTarget } from '../helpers/fuzz.js';
import {
  encodeFrame,
  encodeHelloBody,
  FRAME_HEADER_BYTES,
  FrameType,
  PROTOCOL_VERSION,
  randomNonce,
  RawClient,
  writeFrameHeader,
} from '../helpers/raw-tcp.js';
import { encodeHello, encodePacket, PacketType, rawUdp, type PacketFields } from '../helpers/raw-udp.js';
import { openEndpoint, SOCKETS, testFor } from '../helpers/transport.js';
import { prng, testSeed } from '../helpers/seed.js';
import { udpRelay } from '../helpers/udp-relay.js';

const DATAGRAMS = 100_000;
const CONNECTIONS = 2000;
const PARALLEL = 50;
const SECRET = Buffer.from('fuzz');

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
      encrypt: rand() < 0.8,
      publicKey: Buffer.alloc(32, int(256)),
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

/** A random frame stream: bytes, headers with random fields, valid frames, or mutations of them. */
function fuzzStream(rand: () => number): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const parts: Buffer[] = [];
  for (let n = 1 + int(6); n > 0; n--) {
    const kind = rand();
    if (kind < 0.25) {
      const b = Buffer.alloc(int(3000));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      parts.push(b);
      continue;
    }
    const type = int(11);
    const body = Buffer.alloc(rand() < 0.9 ? int(200) : int(20_000), int(256));
    if (kind < 0.35) {
      // a header that promises a huge body, then a little of it
      const h = Buffer.alloc(FRAME_HEADER_BYTES);
      writeFrameHeader(h, 0, type, 0, 2 ** 31 + int(2 ** 31), int(2 ** 40));
      parts.push(h, body.subarray(0, 50));
      continue;
    }
    let frame: Buffer;
    if (type === FrameType.HELLO && rand() < 0.6) {
      frame = encodeFrame(
        FrameType.HELLO,
        0,
        0,
        encodeHelloBody({
          version: rand() < 0.9 ? PROTOCOL_VERSION : int(256),
          listenPort: int(65536),
          connectionId: BigInt(1 + int(2 ** 31)),
          incarnation: int(2 ** 40),
          nonce: Buffer.alloc(16, int(256)),
          encrypt: rand() < 0.5,
          publicKey: Buffer.alloc(32, int(256)),
        }),
      );
    } else
      frame = encodeFrame(
        type,
        type === FrameType.DATA ? int(2) : int(4) === 0 ? int(256) : 0,
        int(2 ** 33),
        body,
      );
    if (kind < 0.7) parts.push(frame);
    else {
      const m = rand() < 0.3 ? frame.subarray(0, int(frame.length)) : Buffer.from(frame);
      for (let i = int(4); i >= 0 && m.length > 0; i--) m[int(m.length)] = int(256);
      parts.push(m);
    }
  }
  return Buffer.concat(parts);
}

/** Handshakes honestly (as a made-up peer), then sends the stream. */
async function afterHandshake(to: PeerAddress, stream: Buffer, listenPort: number): Promise<void> {
  const c = await RawClient.open(to);
  try {
    const end = await c.handshake({ listenPort, incarnation: Date.now(), secret: SECRET, encrypt: false });
    if (end?.type === FrameType.ACCEPT) c.write(stream);
    await c.waitClosed(200);
  } finally {
    c.destroy();
  }
}

/** Sends the stream on a fresh connection (after a HELLO half the time) and hangs up. */
function plain(to: PeerAddress, stream: Buffer, rand: () => number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: to.host, port: to.port });
    const done = (): void => {
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => {});
    s.once('connect', () => {
      if (rand() < 0.5) {
        const hello = encodeHelloBody({
          version: PROTOCOL_VERSION,
          listenPort: 1 + Math.floor(rand() * 65535),
          connectionId: 7n,
          incarnation: 1,
          nonce: randomNonce(),
          encrypt: false,
          publicKey: Buffer.alloc(32, 9),
        });
        s.write(encodeFrame(FrameType.HELLO, 0, 0, hello));
      }
      s.write(stream);
      setTimeout(done, 20 + Math.floor(rand() * 30));
    });
  });
}

for (const socket of SOCKETS) {
  testFor(test.serial, socket)(
    `udp${socket === 'js' ? '' : ` (${socket} socket)`}: 100 000 random and mutated datagrams: nothing delivered, endpoint intact, memory back`,
    async (t) => {
      // random connection ids from a stranger's address reach no session whatever the encryption:
      // encryption off says so; the twin below fuzzes a live session from its peer's address
      const target = await fuzzTarget(t, 'udp', { socket, encrypt: false });
      const { server, rand } = target;
      const raw = await rawUdp(t, { sendBufferSize: 4 << 20 });
      raw.socket.on('message', () => {}); // RESETs and CHALLENGEs come back; ignore them
      for (let i = 0; i < DATAGRAMS; i++) {
        const d = fuzzDatagram(rand);
        // paced so the endpoint (same process) drains its socket: the point is what it does with them
        if (i % 16 === 15) {
          await raw.send(d, server.address);
          await new Promise((resolve) => setImmediate(resolve));
        } else raw.socket.send(d, server.address.port, server.address.host);
      }
      const received = server.stats().packetsReceived;
      t.true(received > DATAGRAMS * 0.9, `received ${received}`);
      await checkAfterFuzz(t, target, {
        dropped: ['malformed', 'badChecksum', 'badVersion', 'unknownSession'],
        ownSessions: false,
      });
    },
  );
}

test.serial(
  'udp: 100 000 structure-aware datagrams inside a session (records and fragments made up or mutated): memory within its cap and back, no crash',
  async (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
    const r = await runSessionFuzz(DATAGRAMS, seed);
    t.log(
      `${r.datagrams} datagrams in ${r.seconds.toFixed(1)} s; receive memory peak ${r.receiveMemory.peakBytes} B; ` +
        `arrayBuffers ${r.arrayBuffers.startBytes} -> ${r.arrayBuffers.endBytes} B`,
    );
    t.true(r.received > DATAGRAMS * 0.9, `received ${r.received}`);
    t.true(r.dropped.malformed! > 0, 'some datagrams were malformed');
    t.true(r.deliveredFromFuzz > 0, 'some made-up messages completed (the fuzz reached delivery)');
    t.deepEqual(fuzzVerdict(r), [], `seed ${seed}`);
  },
);

test.serial(
  'tcp: random and mutated frame streams on 2000 connections: nothing unauthenticated delivered, endpoint intact, memory back',
  async (t) => {
    // encryption off: the raw client's frames after an honest handshake reach the frame decoder
    // (sealed, the first one fails its tag and closes the connection: transport-seal.test.ts)
    const target = await fuzzTarget(t, 'tcp', { secret: SECRET, encrypt: false });
    const { server, rand } = target;
    let authenticated = 0;
    for (let i = 0; i < CONNECTIONS; i += PARALLEL) {
      const batch: Promise<void>[] = [];
      for (let j = 0; j < PARALLEL; j++) {
        const stream = fuzzStream(rand);
        if (rand() < 0.1) {
          authenticated++;
          batch.push(afterHandshake(server.address, stream, 20_000 + i + j));
        } else batch.push(plain(server.address, stream, rand));
      }
      await Promise.all(batch);
    }
    t.true(authenticated > 0);
    await checkAfterFuzz(t, target, { dropped: ['malformed', 'badVersion', 'overLimit'], ownSessions: true });
  },
);

/**
 * Mutated datagrams injected into a live session from its peer's own address (through a relay: the
 * server sees the relay as the client), half of them carrying the session's real connection id.
 * With encryption off they reach the session's decoder, which must hold; with it on, none opens.
 */
for (const encrypt of [false, true]) {
  test.serial(
    `udp: 20 000 mutated datagrams from the peer's own address, encryption ${encrypt ? 'on: none opens, nothing delivered' : 'off: the decoder holds'}; the session survives`,
    async (t) => {
      const seed = testSeed();
      t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
      const rand = prng(seed);
      const server = await openEndpoint(t, 'udp', { secret: SECRET, encrypt });
      const relay = await udpRelay(t, server.address);
      const client = await openEndpoint(t, 'udp', { secret: SECRET, encrypt });
      const got: string[] = [];
      server.onMessage((m) => void got.push(String(m.payload)));
      const peer = await client.connect(relay.address);
      await client.send(peer, Buffer.from('before')).delivered;
      const serverId = BigInt(`0x${server.peers()[0]!.localConnectionId}`);
      for (let i = 0; i < 20_000; i++) {
        const d = fuzzDatagram(rand);
        if (d.length >= 16 && rand() < 0.5) d.writeBigUInt64BE(serverId, 8);
        if (i % 16 === 15) {
          await relay.inject(d);
          await new Promise((resolve) => setImmediate(resolve));
        } else void relay.inject(d);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (encrypt) t.deepEqual(got, ['before'], 'nothing forged was delivered');
      const d = server.stats().dropped;
      t.true(d.malformed + d.badSeal + d.badChecksum + d.replayed > 0);
      if (server.peers()[0]?.state !== 'connected') return t.pass('the fuzz closed the unsealed session');
      await client.send(peer, Buffer.from('after')).delivered;
      t.true(got.includes('after'));
    },
  );
}
