/**
 * The end-to-end check of the transport's promise: many messages of random sizes between two real
 * endpoints on loopback arrive exactly once, intact, and in order where FIFO was asked — optionally
 * through the impairment layer on both endpoints' receive paths. Shared by the scenario tests.
 *
 * Sizes: 10 000 messages, log-uniform: 99 % over 0 B..64 KiB, 1 % over 64 KiB..1 MiB, plus exactly
 * one 0 B and one 1 MiB message; about 100 MB per run. Content is a slice of a seeded random pool, so
 * a misplaced or corrupted fragment cannot go unnoticed.
 *
 * The endpoints come from the public `createEndpoint`, over the transport the caller names.
 */
import type { ExecutionContext } from 'ava';
import {
  createEndpoint,
  Endpoint,
  TcpEndpoint,
  type Peer,
  type SendHandle,
  type TransportKind,
} from '../../src/index.js';
import { prng } from './seed.js';
import { checkSocket, type SocketChoice } from './transport.js';

export const MESSAGES = 10_000;
const MiB = 1 << 20;
const POOL_BYTES = 2 * MiB;
const HEADER_BYTES = 8;

function logUniform(rand: () => number, lo: number, hi: number): number {
  return Math.floor(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

/** Message sizes: index 0 is 0 B, index 1 is exactly 1 MiB, the rest log-uniform as described above. */
export function messageSizes(count: number, rand: () => number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i === 0) sizes.push(0);
    else if (i === 1) sizes.push(MiB);
    else if (rand() < 0.01) sizes.push(logUniform(rand, 64 * 1024, MiB + 1));
    else sizes.push(logUniform(rand, 1, 64 * 1024 + 1) - 1);
  }
  return sizes;
}

interface Expected {
  size: number;
  fifo: boolean;
  offset: number;
}

/** The endpoint class of each transport. */
interface EndpointOf {
  udp: Endpoint;
  tcp: TcpEndpoint;
}

export interface ExchangeOptions<K extends TransportKind = 'udp'> {
  seed: number;
  /** Default 'udp'. */
  transport?: K;
  count?: number;
  /** Impairment for both endpoints' receive paths (the seed is appended per endpoint); UDP only. */
  impair?: string;
  config?: string;
  /** UDP socket path (endpoint option `socket`; checked from stats). */
  socket?: SocketChoice;
}

export interface ExchangeResult<K extends TransportKind = 'udp'> {
  sender: EndpointOf[K];
  receiver: EndpointOf[K];
  bytes: number;
  /** How many times the sender's trySend said BACK_PRESSURED (the limits were reached). */
  backPressured: number;
}

/** Runs the exchange and asserts exactly-once, intact, FIFO-ordered delivery. */
export async function runExchange<K extends TransportKind = 'udp'>(
  t: ExecutionContext,
  opts: ExchangeOptions<K>,
): Promise<ExchangeResult<K>> {
  const { seed } = opts;
  const count = opts.count ?? MESSAGES;
  t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
  const rand = prng(seed);
  const pool = Buffer.alloc(POOL_BYTES);
  for (let i = 0; i < POOL_BYTES; i += 4) pool.writeUInt32LE((rand() * 2 ** 32) >>> 0, i);
  const sizes = messageSizes(count, rand);
  const expected: Expected[] = sizes.map((size) => ({
    size,
    fifo: size >= HEADER_BYTES && rand() < 0.4,
    offset: Math.floor(rand() * (POOL_BYTES - size)),
  }));

  const impair = (n: number): string | null => (opts.impair ? `${opts.impair},seed=${seed + n}` : null);
  const create = async (n: number): Promise<EndpointOf[K]> => {
    const ep = await createEndpoint({
      transport: opts.transport,
      impair: impair(n),
      config: opts.config,
      ...(opts.socket ? { socket: opts.socket } : {}),
    });
    t.teardown(() => ep.close());
    checkSocket(ep, opts.socket);
    return ep as EndpointOf[K];
  };
  const receiver = await create(1);
  const sender = await create(2);
  let backPressured = 0;

  const seen = new Uint8Array(count);
  const smallArrivals = new Map<string, number>();
  let lastFifo = -1;
  const problems: string[] = [];
  let arrived = 0;
  receiver.onMessage((m) => {
    arrived++;
    const p = m.payload;
    if (p.length < HEADER_BYTES) {
      const key = p.toString('hex');
      smallArrivals.set(key, (smallArrivals.get(key) ?? 0) + 1);
      return;
    }
    const index = p.readUInt32LE(0);
    const e = expected[index];
    if (!e || p.readUInt32LE(4) !== p.length)
      return void problems.push(`message with a bad header (index ${index})`);
    if (seen[index]) problems.push(`message ${index} delivered twice`);
    seen[index] = 1;
    if (e.fifo !== (m.mode === 'fifo')) problems.push(`message ${index} arrived in the wrong mode`);
    if (e.fifo) {
      if (index < lastFifo) problems.push(`FIFO message ${index} after ${lastFifo}`);
      lastFifo = index;
    }
    if (!p.subarray(HEADER_BYTES).equals(pool.subarray(e.offset + HEADER_BYTES, e.offset + e.size))) {
      problems.push(`message ${index} corrupted`);
    }
    // every 64th handler is asynchronous, so both delivery paths are exercised
    if (index % 64 === 0) return new Promise<void>((resolve) => setImmediate(resolve));
    return undefined;
  });

  const peer: Peer = await sender.connect(receiver.address);
  const handles: SendHandle[] = [];
  const smallExpected = new Map<string, number>();
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const e = expected[i]!;
    const payload = Buffer.from(pool.subarray(e.offset, e.offset + e.size));
    if (e.size >= HEADER_BYTES) {
      payload.writeUInt32LE(i, 0);
      payload.writeUInt32LE(e.size, 4);
    } else {
      const key = payload.toString('hex');
      smallExpected.set(key, (smallExpected.get(key) ?? 0) + 1);
    }
    bytes += e.size;
    for (;;) {
      const h = sender.trySend(peer, payload, { mode: e.fifo ? 'fifo' : 'unordered' });
      if (typeof h !== 'string') {
        handles.push(h);
        break;
      }
      t.is(h, 'BACK_PRESSURED', `seed ${seed}: trySend refused message ${i}`);
      if (h !== 'BACK_PRESSURED') return { sender, receiver, bytes, backPressured };
      backPressured++;
      await sender.writable(peer);
    }
  }
  await Promise.all(handles.map((h) => h.received));
  await Promise.all(handles.map((h) => h.delivered));

  t.deepEqual(problems, [], `seed ${seed}`);
  t.is(arrived, count, `seed ${seed}: every message handed over exactly once`);
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (expected[i]!.size >= HEADER_BYTES && !seen[i]) missing.push(i);
  t.deepEqual(missing, [], `seed ${seed}: missing messages`);
  const sorted = (m: Map<string, number>): [string, number][] =>
    [...m].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  t.deepEqual(
    sorted(smallArrivals),
    sorted(smallExpected),
    `seed ${seed}: small messages arrived exactly once each`,
  );
  // finished messages stay queryable up to LIMITS.MAX_MESSAGE_HISTORY: check the most recent ones
  const states = sender.messageStates(handles.slice(-1000).map((h) => h.messageId));
  t.true(
    states.every((s) => s?.state === 'delivered'),
    `seed ${seed}: every recent message reports state delivered`,
  );
  return { sender, receiver, bytes, backPressured };
}
