/**
 * What the transport fuzzers share, whatever they throw (datagrams at UDP, frame streams at TCP): a
 * server with one real session to a client, and the checks after the fuzz: nothing reached the
 * application under the real peer's name, only the real session is left, a real exchange still
 * works, and memory (heap, sessions, half-open handshakes, partial messages or frames) is back.
 * Failing checks print the seed (rerun with FERRY_TEST_SEED).
 */
import type { ExecutionContext } from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type EndpointStats, type Peer, type TransportKind } from '../../src/index.js';
import { prng, testSeed } from './seed.js';
import { openEndpoint, type AnyEndpoint, type SocketChoice } from './transport.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap in use after two full collections (so what is left is what is held). */
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export interface FuzzTarget {
  server: AnyEndpoint;
  client: AnyEndpoint;
  /** The client's session to the server, and the server's name for the client. */
  peer: Peer;
  realId: string;
  /** What the server's application got, from whom. */
  got: { from: string; payload: Buffer }[];
  seed: number;
  rand: () => number;
  heapBeforeBytes: number;
}

/**
 * A server (half-open handshakes expire after 300 ms) with a real session from a client, one message
 * exchanged; the heap is measured last, so the checks see what the fuzz left behind.
 */
export async function fuzzTarget(
  t: ExecutionContext,
  transport: TransportKind,
  opts: { secret?: Buffer; socket?: SocketChoice; encrypt?: boolean } = {},
): Promise<FuzzTarget> {
  const seed = testSeed();
  t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
  const { socket, encrypt } = opts;
  const server = await openEndpoint(t, transport, {
    secret: opts.secret,
    socket,
    encrypt,
    config: 'handshakeTimeoutMs=300',
  });
  const client = await openEndpoint(t, transport, { secret: opts.secret, socket, encrypt });
  const got: FuzzTarget['got'] = [];
  server.onMessage((m) => void got.push({ from: m.peer.id, payload: Buffer.from(m.payload) }));
  const peer = await client.connect(server.address);
  const realId = server.peers()[0]!.id;
  await client.send(peer, Buffer.from('before')).delivered;
  got.length = 0;
  return { server, client, peer, realId, got, seed, rand: prng(seed), heapBeforeBytes: heapUsed() };
}

/**
 * Sessions, half-open handshakes and the transport's partial-input buffers (UDP: messages being
 * reassembled; TCP: messages held, partial frames); the message history is not part of it.
 */
function memoryOf(ep: AnyEndpoint): Record<string, number> {
  const { liveMessages, ...held } = ep.memoryStats();
  void liveMessages;
  return held;
}

export interface AfterFuzz {
  /** Drop reasons the fuzz must have hit. */
  dropped: readonly (keyof EndpointStats['dropped'])[];
  /**
   * Whether the fuzz authenticated sessions of its own (made-up peers that may deliver under their
   * own names); when not, nothing at all may reach the application.
   */
  ownSessions: boolean;
}

/** The checks after the fuzz (see the module comment). */
export async function checkAfterFuzz(
  t: ExecutionContext,
  target: FuzzTarget,
  expect: AfterFuzz,
): Promise<void> {
  const { server, client, peer, realId, got, seed } = target;
  await new Promise((resolve) => setTimeout(resolve, 800)); // half-open handshakes expire (300 ms)

  const s = server.stats();
  for (const reason of expect.dropped) t.true(s.dropped[reason] > 0, `some dropped as ${reason}`);
  t.deepEqual(
    got.filter((g) => g.from === realId),
    [],
    `seed ${seed}: nothing reached the application under the real peer's name`,
  );
  if (!expect.ownSessions)
    t.deepEqual(got, [], `seed ${seed}: nothing from the fuzz reached the application`);
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

  const held = memoryOf(server);
  const idle = Object.fromEntries(Object.keys(held).map((k) => [k, k === 'sessions' ? 1 : 0]));
  t.deepEqual(held, idle, `seed ${seed}: sessions, half-open handshakes and buffers back to idle`);
  const grownBytes = heapUsed() - target.heapBeforeBytes;
  t.true(grownBytes < 8 << 20, `seed ${seed}: heap grew by ${grownBytes} bytes`);
}
