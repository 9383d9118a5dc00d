/**
 * Throws random and mutated frame streams at a live TCP endpoint over thousands of real
 * connections (before the handshake, during it, and after an honest one), then checks that the
 * endpoint still serves a real session, that nothing from an unauthenticated connection was
 * delivered, and that memory (heap, sessions, half-open connections, partial frames) is back.
 */
import test from 'ava';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomNonce } from '../../src/transport/handshake-auth.js';
import { encodeFrame, encodeHelloBody, writeFrameHeader } from '../../src/transport/tcp/frame-codec.js';
import { FRAME_HEADER_BYTES, FrameType, PROTOCOL_VERSION } from '../../src/transport/tcp/frame-layout.js';
import { TcpEndpoint } from '../../src/transport/tcp/tcp-endpoint.js';
import { prng, testSeed } from '../helpers/exchange.js';
import { RawClient } from '../helpers/raw-tcp.js';

const CONNECTIONS = 2000;
const PARALLEL = 50;
const SECRET = Buffer.from('fuzz');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
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
async function afterHandshake(ep: TcpEndpoint, stream: Buffer, listenPort: number): Promise<void> {
  const c = await RawClient.open(ep.address);
  try {
    const end = await c.handshake({ listenPort, incarnation: Date.now(), secret: SECRET });
    if (end?.type === FrameType.ACCEPT) c.write(stream);
    await c.waitClosed(200);
  } finally {
    c.destroy();
  }
}

/** Sends the stream on a fresh connection (after a HELLO half the time) and hangs up. */
function plain(ep: TcpEndpoint, stream: Buffer, rand: () => number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ep.address.host, port: ep.address.port });
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
        });
        s.write(encodeFrame(FrameType.HELLO, 0, 0, hello));
      }
      s.write(stream);
      setTimeout(done, 20 + Math.floor(rand() * 30));
    });
  });
}

test('random and mutated frame streams on 2000 connections: nothing unauthenticated delivered, endpoint intact, memory back', async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
  const rand = prng(seed);
  const server = await TcpEndpoint.create({ secret: SECRET, config: 'handshakeTimeoutMs=300' });
  t.teardown(() => server.close());
  const client = await TcpEndpoint.create({ secret: SECRET });
  t.teardown(() => client.close());
  const got: { from: string; payload: Buffer }[] = [];
  server.onMessage((m) => void got.push({ from: m.peer.id, payload: Buffer.from(m.payload) }));
  const peer = await client.connect(server.address);
  const realId = server.peers()[0]!.id;
  await client.send(peer, Buffer.from('before')).delivered;
  got.length = 0;
  const heapBefore = heapUsed();

  let authenticated = 0;
  for (let i = 0; i < CONNECTIONS; i += PARALLEL) {
    const batch: Promise<void>[] = [];
    for (let j = 0; j < PARALLEL; j++) {
      const stream = fuzzStream(rand);
      if (rand() < 0.1) {
        authenticated++;
        batch.push(afterHandshake(server, stream, 20_000 + i + j));
      } else batch.push(plain(server, stream, rand));
    }
    await Promise.all(batch);
  }
  await new Promise((resolve) => setTimeout(resolve, 800)); // half-open connections expire (300 ms)

  const s = server.stats();
  for (const reason of ['malformed', 'badVersion', 'overLimit'] as const) {
    t.true(s.dropped[reason] > 0, `some dropped as ${reason}`);
  }
  t.true(authenticated > 0);
  t.deepEqual(
    got.filter((g) => g.from === realId),
    [],
    `seed ${seed}: nothing reached the application under the real peer's name`,
  );
  t.deepEqual(
    server.peers().map((p) => p.id),
    [realId],
    `seed ${seed}: only the real session is left`,
  );

  // a real exchange still works
  got.length = 0;
  const payloads = Array.from({ length: 100 }, (_, i) => Buffer.alloc(i * 997, i));
  payloads.push(Buffer.alloc(1 << 20, 9));
  await Promise.all(payloads.map((p) => client.send(peer, p, { mode: 'fifo' }).delivered));
  t.is(got.length, payloads.length);
  t.true(got.every((g, i) => g.payload.equals(payloads[i]!)));
  got.length = 0;

  const mem = server.memoryStats();
  t.deepEqual(
    [mem.sessions, mem.pendingHandshakes, mem.heldMessages, mem.heldBytes, mem.partialFrameBytes],
    [1, 0, 0, 0, 0],
    `seed ${seed}: sessions, half-open connections and buffers back to idle`,
  );
  const grownBytes = heapUsed() - heapBefore;
  t.true(grownBytes < 8 << 20, `seed ${seed}: heap grew by ${grownBytes} bytes`);
});
