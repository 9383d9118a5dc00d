/**
 * What the per-packet AEAD and the stateless handshake guarantee on the UDP wire, seen by an on-path
 * relay (helpers/udp-relay.ts) and an off-path forger: no message byte visible; forged, bit-flipped
 * and replayed packets dropped and counted; a forged CLOSE or an other address's RESET ends nothing;
 * no answer larger than what caused it; HELLOs leave no state. Each forgery also runs against a
 * session with encryption off, where it gets through: the twin shows the test sees what it claims.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { encodeFrame, FrameType } from '../helpers/raw-tcp.js';
import type { Endpoint, Peer } from '../../src/index.js';
import { encodeHello, encodePacket, PacketType, rawUdp } from '../helpers/raw-udp.js';
import { udpRelay, type UdpRelay } from '../helpers/udp-relay.js';
import { openEndpoint, SOCKETS, testFor, until } from '../helpers/transport.js';
import { CHALLENGE_BYTES, HELLO_BYTES } from '../../src/wire/control-bodies.js';
import { ackBodyBytes } from '../../src/wire/control-bodies.js';
import {
  AEAD_TAG_BYTES,
  HEADER_BYTES,
  PACKET_NUMBER_OFFSET,
  RECEIVE_WINDOW_OFFSET,
  SACK_RANGE_BYTES,
  TYPE_OFFSET,
} from '../../src/wire/packet-layout.js';
import { LIMITS } from '../../src/core/limits.js';

const SECRET = 'seal-test-secret';

interface Pair {
  server: Endpoint;
  client: Endpoint;
  relay: UdpRelay;
  peer: Peer;
  got: Buffer[];
  /** The server's connection id of the session (what a packet to it carries). */
  serverId: bigint;
}

async function pair(t: ExecutionContext, socket: (typeof SOCKETS)[number], encrypt = true): Promise<Pair> {
  const server = await openEndpoint(t, 'udp', { secret: SECRET, socket, encrypt });
  const relay = await udpRelay(t, server.address);
  const client = await openEndpoint(t, 'udp', { secret: SECRET, socket, encrypt });
  const got: Buffer[] = [];
  server.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await client.connect(relay.address);
  await client.send(peer, Buffer.from('first')).delivered;
  const serverId = BigInt(`0x${server.peers()[0]!.localConnectionId}`);
  return { server, client, relay, peer, got, serverId };
}

/** A DATA packet carrying one whole message, as a forger on the path would build it. */
function forgedData(connectionId: bigint, packetNumber: number, messageSeq: number, bytes: Buffer): Buffer {
  return encodePacket({
    type: PacketType.DATA,
    connectionId,
    packetNumber,
    cumulativeAck: 0,
    leastUnacked: 1,
    receiveWindow: 1000,
    payload: bytes,
    data: {
      messageSeq,
      fifoSeq: 0,
      messageLength: bytes.length,
      fragmentOffset: 0,
      fragmentIndex: 0,
      fragmentCount: 1,
    },
  });
}

/** Does any 32-byte aligned chunk of `secret` appear in `datagram`? (A run of >= 63 bytes would.) */
function leaks(datagram: Buffer, secret: Buffer): boolean {
  for (let at = 0; at + 32 <= secret.length; at += 32)
    if (datagram.includes(secret.subarray(at, at + 32))) return true;
  return false;
}

const quiet = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));

for (const socket of SOCKETS) {
  const name = socket === 'js' ? 'udp' : `udp ${socket}`;

  testFor(test, socket)(`${name}: no byte of a 64 KiB message is visible on the wire`, async (t) => {
    const { client, peer, relay, got } = await pair(t, socket);
    const payload = randomBytes(64 * 1024);
    await client.send(peer, payload).delivered;
    t.true(got.some((g) => g.equals(payload)));
    t.true(relay.captured.length > 0);
    t.false(
      relay.captured.some((c) => leaks(c.bytes, payload)),
      'a datagram carried message bytes in clear',
    );
  });

  testFor(test, socket)(`${name} (encryption off, the twin): the same message is visible`, async (t) => {
    const { client, peer, relay } = await pair(t, socket, false);
    const payload = randomBytes(64 * 1024);
    await client.send(peer, payload).delivered;
    t.true(relay.captured.some((c) => leaks(c.bytes, payload)));
  });

  testFor(test, socket)(
    `${name}: a forged DATA from the client's address (an UNLINK request) is dropped and counted`,
    async (t) => {
      const { server, relay, got, serverId } = await pair(t, socket);
      const before = server.stats().dropped.badSeal;
      for (let seq = 2; seq < 6; seq++)
        await relay.inject(forgedData(serverId, 1000 + seq, seq, Buffer.from('UNLINK /important')));
      await until(() => server.stats().dropped.badSeal - before >= 4, 500);
      t.deepEqual(got.map(String), ['first']);
      t.is(server.stats().dropped.badSeal - before, 4);
      t.is(server.peers()[0]!.state, 'connected');
    },
  );

  testFor(test, socket)(
    `${name} (encryption off, the twin): the same forged DATA is delivered`,
    async (t) => {
      const { relay, got, serverId } = await pair(t, socket, false);
      for (let seq = 2; seq < 6; seq++)
        await relay.inject(forgedData(serverId, 1000 + seq, seq, Buffer.from('UNLINK /important')));
      t.true(await until(() => got.length > 1, 100));
      t.true(got.some((g) => String(g) === 'UNLINK /important'));
    },
  );

  testFor(test, socket)(
    `${name}: replayed and bit-flipped packets are dropped and counted; nothing is delivered twice`,
    async (t) => {
      const { server, client, peer, relay, got } = await pair(t, socket);
      await client.send(peer, Buffer.from('second')).delivered;
      const data = relay.captured.filter((c) => c.dir === 'up' && c.bytes[TYPE_OFFSET] === PacketType.DATA);
      t.true(data.length >= 2);
      const d0 = server.stats().dropped;
      for (const c of data) await relay.inject(c.bytes); // replays
      const last = data[data.length - 1]!.bytes;
      const body = Buffer.from(last);
      body[body.length - AEAD_TAG_BYTES - 1]! ^= 0x01; // a bit of the encrypted body
      const header = Buffer.from(last);
      header[RECEIVE_WINDOW_OFFSET + 3]! ^= 0x01; // a bit of the authenticated header
      const tag = Buffer.from(last);
      tag[tag.length - 1]! ^= 0x80;
      for (const b of [body, header, tag]) {
        b.writeUInt32BE(b.readUInt32BE(PACKET_NUMBER_OFFSET + 4) + 100, PACKET_NUMBER_OFFSET + 4); // fresh: not a replay
        await relay.inject(b);
      }
      await until(() => {
        const d = server.stats().dropped;
        return d.replayed - d0.replayed >= data.length && d.badSeal - d0.badSeal >= 3;
      }, 500);
      const d1 = server.stats().dropped;
      t.is(d1.replayed - d0.replayed, data.length, 'every replay counted');
      t.is(d1.badSeal - d0.badSeal, 3, 'every flipped packet counted');
      t.deepEqual(got.map(String), ['first', 'second']);
    },
  );

  testFor(test, socket)(`${name}: a bare or forged CLOSE does not end the session`, async (t) => {
    const { server, client, peer, relay, got, serverId } = await pair(t, socket);
    await relay.inject(encodePacket({ type: PacketType.CLOSE, connectionId: serverId, packetNumber: 5000 }));
    await relay.inject(
      encodePacket({ type: PacketType.CLOSE, connectionId: serverId, packetNumber: 5001, flags: 0x04 }),
    );
    await until(() => server.stats().dropped.badSeal + server.stats().dropped.malformed >= 2, 500);
    t.is(server.peers()[0]?.state, 'connected');
    const d = server.stats().dropped;
    t.is(d.badSeal + d.malformed, 2, 'a bare CLOSE is too short to be sealed; neither opens');
    await client.send(peer, Buffer.from('still here')).delivered;
    t.deepEqual(got.map(String), ['first', 'still here']);
  });

  testFor(test, socket)(
    `${name}: a RESET asked for from another address does not end the victim's session`,
    async (t) => {
      const { server, client, peer, relay, got, serverId } = await pair(t, socket);
      const attacker = await rawUdp(t);
      const reset = new Promise<Buffer>((resolve) =>
        attacker.socket.on('message', (m) => {
          if (m[TYPE_OFFSET] === PacketType.RESET) resolve(m);
        }),
      );
      // the server has no session with the attacker's address for this id: it answers with a RESET
      const hb = encodePacket({
        type: PacketType.HEARTBEAT,
        connectionId: serverId,
        packetNumber: 9,
        payload: Buffer.alloc(64),
      });
      await attacker.send(hb, server.address);
      const token = await reset;
      // ... which the attacker sends to the victim as if from the server
      await relay.injectDown(token);
      // until the client has dealt with it: refused (counted), or accepted (the session ends)
      await until(
        () => client.stats().dropped.unauthenticated > 0 || client.peers()[0]?.state !== 'connected',
        500,
      );
      t.is(client.peers()[0]?.state, 'connected');
      t.true(client.stats().dropped.unauthenticated > 0, 'the RESET was refused');
      await client.send(peer, Buffer.from('alive')).delivered;
      t.deepEqual(got.map(String), ['first', 'alive']);
    },
  );

  testFor(test, socket)(
    `${name}: no reply is larger than what caused it (HELLO, HEARTBEAT, RESET)`,
    async (t) => {
      const { server, client, peer, relay } = await pair(t, socket);
      await client.send(peer, Buffer.from('x')).delivered;
      // HELLO is padded to CHALLENGE
      t.true(HELLO_BYTES >= CHALLENGE_BYTES);
      const hellos = relay.captured.filter(
        (c) => c.dir === 'up' && c.bytes[TYPE_OFFSET] === PacketType.HELLO,
      );
      const challenges = relay.captured.filter(
        (c) => c.dir === 'down' && c.bytes[TYPE_OFFSET] === PacketType.CHALLENGE,
      );
      t.true(hellos.length > 0 && challenges.length > 0);
      for (const c of challenges) t.true(c.bytes.length <= hellos[0]!.bytes.length);
      // a HEARTBEAT is never smaller than the largest ACK that answers it
      const largestAck =
        HEADER_BYTES +
        LIMITS.MAX_SACK_RANGES * SACK_RANGE_BYTES +
        ackBodyBytes(LIMITS.MAX_SACK_RANGES) +
        AEAD_TAG_BYTES;
      await until(() => relay.captured.some((c) => c.bytes[TYPE_OFFSET] === PacketType.HEARTBEAT), 500);
      const heartbeats = relay.captured.filter((c) => c.bytes[TYPE_OFFSET] === PacketType.HEARTBEAT);
      t.true(heartbeats.length > 0, 'an idle session sent heartbeats');
      for (const h of heartbeats) t.true(h.bytes.length >= largestAck, `heartbeat of ${h.bytes.length} B`);
      // a datagram smaller than a RESET gets no RESET
      const raw = await rawUdp(t);
      let answers = 0;
      raw.socket.on('message', () => answers++);
      const small = encodePacket({ type: PacketType.HEARTBEAT, connectionId: 12345n, packetNumber: 1 });
      await raw.send(small.subarray(0, HEADER_BYTES), server.address);
      await quiet();
      t.is(answers, 0);
    },
  );

  // serial: the flood keeps this process's event loop busy (a key derivation per HELLO), which would
  // starve the handshakes of the tests running beside it
  testFor(test.serial, socket)(
    `${name}: 2,000 HELLOs from one socket leave no server state, and a real client still connects`,
    async (t) => {
      const server = await openEndpoint(t, 'udp', { secret: SECRET, socket });
      const raw = await rawUdp(t, { sendBufferSize: 4 << 20 });
      let challenges = 0;
      raw.socket.on('message', (m) => {
        if (m[TYPE_OFFSET] === PacketType.CHALLENGE) challenges++;
      });
      for (let i = 0; i < 2000; i++) {
        const hello = encodeHello({
          sourceConnectionId: BigInt(i + 1),
          incarnation: 1,
          nonce: randomBytes(16),
          maxPacketBytes: 1452,
          encrypt: true,
          publicKey: randomBytes(32),
        });
        await raw.send(
          encodePacket({ type: PacketType.HELLO, connectionId: 0n, payload: hello }),
          server.address,
        );
        if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => challenges >= 1900, 300);
      t.true(challenges > 0, 'the HELLOs were answered');
      t.is(server.memoryStats().pendingHandshakes, 0);
      t.is(server.memoryStats().sessions, 0);
      const client = await openEndpoint(t, 'udp', { secret: SECRET, socket });
      const got: string[] = [];
      server.onMessage((m) => void got.push(String(m.payload)));
      const peer = await client.connect(server.address);
      await client.send(peer, Buffer.from('through')).delivered;
      t.deepEqual(got, ['through']);
    },
  );

  testFor(test, socket)(
    `${name}: a wrong secret fails at once with the message that names the fix`,
    async (t) => {
      const server = await openEndpoint(t, 'udp', {
        secret: 'right',
        socket,
        config: 'handshakeTimeoutMs=60000',
      });
      const client = await openEndpoint(t, 'udp', {
        secret: 'wrong',
        socket,
        config: 'handshakeTimeoutMs=60000',
      });
      const err = await t.throwsAsync(client.connect(server.address), {
        code: 'AUTH_FAILED',
        message: /the server refused the secret: check --secret-file or FERRY_SECRET/,
      } as never);
      t.truthy(err);
      t.true(server.stats().dropped.unauthenticated > 0);
      t.is(server.memoryStats().sessions, 0);
    },
  );

  testFor(test, socket)(`${name}: an encryption mismatch is refused with which side to change`, async (t) => {
    const server = await openEndpoint(t, 'udp', { secret: SECRET, socket, encrypt: false });
    const client = await openEndpoint(t, 'udp', { secret: SECRET, socket });
    await t.throwsAsync(client.connect(server.address), {
      code: 'ENCRYPT_MISMATCH',
      message: /server has encryption off/,
    } as never);
    const server2 = await openEndpoint(t, 'udp', { secret: SECRET, socket });
    const client2 = await openEndpoint(t, 'udp', { secret: SECRET, socket, encrypt: false });
    await t.throwsAsync(client2.connect(server2.address), {
      code: 'ENCRYPT_MISMATCH',
      message: /server requires encryption/,
    } as never);
  });
}

// ------------------------------------------------------------------ TCP: the same rules per frame

interface TcpRelay {
  address: { host: string; port: number };
  /** Every chunk relayed, both ways. */
  captured: Buffer[];
  /** Writes `bytes` into the client-to-server stream (a forger on the path). */
  injectUp(bytes: Buffer): void;
}

async function tcpRelay(t: ExecutionContext, to: { host: string; port: number }): Promise<TcpRelay> {
  const sockets: net.Socket[] = [];
  let upstream: net.Socket | null = null;
  const relay: TcpRelay = {
    address: { host: '127.0.0.1', port: 0 },
    captured: [],
    injectUp: (bytes) => void upstream?.write(bytes),
  };
  const server = net.createServer((down) => {
    const up = net.connect(to.port, to.host);
    upstream = up;
    sockets.push(down, up);
    down.on('data', (b) => {
      relay.captured.push(Buffer.from(b));
      up.write(b);
    });
    up.on('data', (b) => {
      relay.captured.push(Buffer.from(b));
      down.write(b);
    });
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.address.port = (server.address() as net.AddressInfo).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return relay;
}

async function tcpPair(t: ExecutionContext, encrypt = true) {
  const server = await openEndpoint(t, 'tcp', { secret: SECRET, encrypt });
  const relay = await tcpRelay(t, server.address);
  const client = await openEndpoint(t, 'tcp', { secret: SECRET, encrypt });
  const got: Buffer[] = [];
  server.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await client.connect(relay.address);
  await client.send(peer, Buffer.from('first')).delivered;
  return { server, client, relay, peer, got };
}

test('tcp: no byte of a 64 KiB message is visible on the wire (the twin with encryption off sees it)', async (t) => {
  const { client, peer, relay, got } = await tcpPair(t);
  const payload = randomBytes(64 * 1024);
  await client.send(peer, payload).delivered;
  t.true(got.some((g) => g.equals(payload)));
  t.false(leaks(Buffer.concat(relay.captured), payload), 'the stream carried message bytes in clear');
  const off = await tcpPair(t, false);
  await off.client.send(off.peer, payload).delivered;
  t.true(leaks(Buffer.concat(off.relay.captured), payload));
});

test('tcp: a forged frame written into the stream is refused and counted; nothing forged is delivered', async (t) => {
  const { server, relay, got } = await tcpPair(t);
  const forged = encodeFrame(FrameType.DATA, 0, 2, Buffer.from('UNLINK /important'));
  relay.injectUp(forged);
  t.true(await until(() => server.stats().dropped.badSeal > 0, 300));
  t.deepEqual(got.map(String), ['first']);
});

test('tcp: a wrong secret fails at once with the message that names the fix; a mismatch names the side', async (t) => {
  const server = await openEndpoint(t, 'tcp', { secret: 'right' });
  const client = await openEndpoint(t, 'tcp', { secret: 'wrong' });
  await t.throwsAsync(client.connect(server.address), {
    code: 'AUTH_FAILED',
    message: /the server refused the secret: check --secret-file or FERRY_SECRET/,
  } as never);
  const off = await openEndpoint(t, 'tcp', { secret: SECRET, encrypt: false });
  const on = await openEndpoint(t, 'tcp', { secret: SECRET });
  await t.throwsAsync(on.connect(off.address), {
    code: 'ENCRYPT_MISMATCH',
    message: /server has encryption off/,
  } as never);
});
