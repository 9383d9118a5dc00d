/**
 * Message and FIFO sequences are 32 bits on the wire but full numbers in the session: a session that
 * has sent 2^32 messages goes on, its sequences carried as their low 32 bits and expanded by the
 * receiver (src/wire/sequence.ts). Reaching 2^32 for real takes about an hour at a million messages a
 * second, so both sides are fast-forwarded to just below it (the state a session reaches after that
 * many messages) and a few thousand messages, unordered and FIFO, whole and fragmented, cross the
 * wrap — also under seeded loss, duplication and reordering (the seed is printed).
 */
import test, { type ExecutionContext } from 'ava';
import { Endpoint } from '../../src/transport/endpoint.js';
import type { Peer } from '../../src/transport/types.js';
import { prng, testSeed } from '../helpers/seed.js';
import { checkSocket, SOCKETS, testFor, type SocketChoice } from '../helpers/transport.js';

const ROUNDS = 6;
const PER_ROUND = 500;
const TOTAL = ROUNDS * PER_ROUND;
const TWO_32 = 2 ** 32;

/** The private fields that hold a session's sequences (tests only: no public way to fast-forward). */
type Fields = Record<string, unknown>;

function onlySession(endpoint: Endpoint): Fields & { inbox: Fields } {
  const sessions = (endpoint as unknown as { sessionsByAddress: Map<string, Fields & { inbox: Fields }> })
    .sessionsByAddress;
  const [session] = [...sessions.values()];
  if (!session || sessions.size !== 1) throw new Error('expected exactly one session');
  return session;
}

/** Sets numeric private fields, refusing names that do not exist (a rename must fail this test). */
function setFields(target: Fields, values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (typeof target[name] !== 'number') throw new Error(`no numeric field ${name}`);
    target[name] = value;
  }
}

/**
 * Puts sender and receiver where a session is after `seq - 1` messages of which `fifoSeq - 1` were
 * FIFO, all delivered (nothing in flight: called right after the handshake).
 */
function fastForward(sender: Endpoint, receiver: Endpoint, seq: number, fifoSeq: number): void {
  setFields(onlySession(sender), { nextSeq: seq, nextFifoSeq: fifoSeq });
  setFields(onlySession(receiver).inbox, { base: seq, highestSeq: seq - 1, nextFifo: fifoSeq });
}

async function acrossTheWrap(
  t: ExecutionContext,
  socket: SocketChoice,
  impair: string | null,
  seed: number,
): Promise<void> {
  const rand = prng(seed);
  const receiver = await Endpoint.create({ socket, impair: impair && `${impair},seed=${seed + 1}` });
  t.teardown(() => receiver.close());
  const sender = await Endpoint.create({ socket, impair: impair && `${impair},seed=${seed + 2}` });
  t.teardown(() => sender.close());
  checkSocket(receiver, socket);
  checkSocket(sender, socket);
  const errors: string[] = [];
  const onError = (e: unknown): void => void errors.push(String(e));
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  t.teardown(() => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  });
  const fifo = Array.from({ length: TOTAL }, () => rand() < 0.5);
  // mostly small (coalesced records), one in ten a few fragments long
  const payloads = Array.from({ length: TOTAL }, (_, i) => {
    const b = Buffer.alloc(rand() < 0.1 ? 3000 + Math.floor(rand() * 3000) : 8 + Math.floor(rand() * 64));
    for (let k = 4; k < b.length; k++) b[k] = (rand() * 256) | 0;
    b.writeUInt32LE(i, 0);
    return b;
  });
  const arrivals = new Uint8Array(TOTAL);
  const problems: string[] = [];
  let lastFifo = -1;
  receiver.onMessage((m) => {
    const i = m.payload.readUInt32LE(0);
    if (i >= TOTAL || !m.payload.equals(payloads[i]!)) return void problems.push(`message ${i} corrupted`);
    arrivals[i]!++;
    if ((m.mode === 'fifo') !== fifo[i]) problems.push(`message ${i} arrived in the wrong mode`);
    if (m.mode !== 'fifo') return;
    if (i < lastFifo) problems.push(`FIFO message ${i} after ${lastFifo}`);
    lastFifo = i;
  });
  const peer: Peer = await sender.connect(receiver.address);
  // the message sequence wraps after ~1000 messages, the FIFO sequence after ~500 FIFO ones (~1000)
  fastForward(sender, receiver, TWO_32 - 1000, TWO_32 - 500);
  let delivered = 0;
  for (let round = 0; round < ROUNDS && errors.length === 0; round++) {
    const settled: Promise<void>[] = [];
    for (let i = round * PER_ROUND; i < (round + 1) * PER_ROUND; i++) {
      const h = sender.trySend(peer, payloads[i]!, { mode: fifo[i] ? 'fifo' : 'unordered' });
      if (typeof h === 'string') return void t.fail(`seed ${seed}: message ${i} refused: ${h}`);
      settled.push(
        h.delivered.then(
          () => void delivered++,
          (e: unknown) => void problems.push(`message ${i} failed: ${String(e)}`),
        ),
      );
    }
    // an exception inside the flush leaves the promises pending: stop waiting once one was seen
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => errors.length > 0 && resolve(), 20);
      void Promise.all(settled).finally(() => {
        clearInterval(poll);
        resolve();
      });
    });
  }
  t.deepEqual(errors, [], `seed ${seed}: no exception`);
  // the run really crossed both wraps (a fast-forward that missed would make this test vacuous)
  const s = onlySession(sender);
  const r = onlySession(receiver).inbox;
  t.true([s['nextSeq'], s['nextFifoSeq'], r['base'], r['nextFifo']].every((v) => Number(v) > TWO_32));
  t.deepEqual(problems, [], `seed ${seed}`);
  t.is(delivered, TOTAL, `seed ${seed}: delivered resolved for every message`);
  const wrong: string[] = [];
  arrivals.forEach((n, i) => n !== 1 && wrong.push(`message ${i} arrived ${n} times`));
  t.deepEqual(wrong.slice(0, 10), [], `seed ${seed}: every message exactly once`);
}

for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : `${socket} socket: `;

  testFor(test, socket)(
    `${on}${TOTAL} messages across the 2^32 wrap of the message and FIFO sequences arrive exactly once, intact, FIFO in order`,
    async (t) => {
      t.timeout(60_000);
      const seed = testSeed();
      t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
      await acrossTheWrap(t, socket, null, seed);
    },
  );

  testFor(test, socket)(
    `${on}${TOTAL} messages across the 2^32 wrap under loss, duplication and reordering arrive exactly once, FIFO in order`,
    async (t) => {
      t.timeout(90_000);
      const seed = testSeed();
      t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
      await acrossTheWrap(t, socket, 'loss=0.1,dup=0.05,reorder=0.05', seed);
    },
  );
}
