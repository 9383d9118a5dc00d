/**
 * Small messages queued for a peer in one synchronous run leave coalesced, several message records
 * per DATA packet (packet-layout.ts), and still arrive exactly once, intact, FIFO ones in order —
 * also when packets carrying several messages are lost, duplicated and reordered on the way (the
 * impairment layer, seeded; the seed is printed).
 */
import test, { type ExecutionContext } from 'ava';
import { Endpoint } from '../../src/transport/endpoint.js';
import type { SendHandle } from '../../src/transport/types.js';
import { prng, testSeed } from '../helpers/seed.js';
import { checkSocket, SOCKETS, testFor, type SocketChoice } from '../helpers/transport.js';

const MESSAGES = 1000;
const SIZE_BYTES = 64;

interface Run {
  /** DATA-carrying packets the sender sent for the burst (all its packets after the handshake). */
  packetsSent: number;
  problems: string[];
  arrivals: Uint8Array;
  /** Datagrams the impairment layers dropped as lost (both endpoints' receive paths). */
  droppedLoss: number;
}

/**
 * Sends `rounds` bursts of MESSAGES small messages, each burst in one synchronous loop, and checks
 * what arrives.
 */
async function burst(
  t: ExecutionContext,
  socket: SocketChoice,
  impair: string | null,
  seed: number,
  rounds = 1,
): Promise<Run> {
  const total = rounds * MESSAGES;
  const rand = prng(seed);
  const receiver = await Endpoint.create({ socket, impair: impair && `${impair},seed=${seed + 1}` });
  t.teardown(() => receiver.close());
  const sender = await Endpoint.create({ socket, impair: impair && `${impair},seed=${seed + 2}` });
  t.teardown(() => sender.close());
  checkSocket(receiver, socket);
  checkSocket(sender, socket);
  const fifo = Array.from({ length: total }, () => rand() < 0.5);
  const payloads = Array.from({ length: total }, (_, i) => {
    const b = Buffer.alloc(SIZE_BYTES);
    for (let k = 0; k < SIZE_BYTES; k++) b[k] = (rand() * 256) | 0;
    b.writeUInt32LE(i, 0);
    return b;
  });
  const arrivals = new Uint8Array(total);
  const problems: string[] = [];
  let lastFifo = -1;
  receiver.onMessage((m) => {
    const i = m.payload.readUInt32LE(0);
    if (i >= total || !m.payload.equals(payloads[i]!)) return void problems.push(`message ${i} corrupted`);
    arrivals[i]!++;
    if ((m.mode === 'fifo') !== fifo[i]) problems.push(`message ${i} arrived in the wrong mode`);
    if (m.mode !== 'fifo') return;
    if (i < lastFifo) problems.push(`FIFO message ${i} after ${lastFifo}`);
    lastFifo = i;
  });
  const peer = await sender.connect(receiver.address);
  const before = sender.stats().packetsSent;
  for (let round = 0; round < rounds; round++) {
    const handles: SendHandle[] = [];
    for (let i = round * MESSAGES; i < (round + 1) * MESSAGES; i++) {
      const h = sender.trySend(peer, payloads[i]!, { mode: fifo[i] ? 'fifo' : 'unordered' });
      if (typeof h === 'string')
        return { packetsSent: 0, problems: [`message ${i} refused: ${h}`], arrivals, droppedLoss: 0 };
      handles.push(h);
    }
    await Promise.all(handles.map((h) => h.delivered));
  }
  return {
    packetsSent: sender.stats().packetsSent - before,
    problems,
    arrivals,
    droppedLoss:
      (receiver.impairmentStats()?.droppedLoss ?? 0) + (sender.impairmentStats()?.droppedLoss ?? 0),
  };
}

function checkExactlyOnce(t: ExecutionContext, run: Run, seed: number): void {
  t.deepEqual(run.problems, [], `seed ${seed}`);
  const wrong: string[] = [];
  run.arrivals.forEach((n, i) => {
    if (n !== 1) wrong.push(`message ${i} arrived ${n} times`);
  });
  t.deepEqual(wrong, [], `seed ${seed}: every message exactly once`);
}

for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : `${socket} socket: `;

  testFor(test, socket)(
    `${on}${MESSAGES} messages of ${SIZE_BYTES} B sent in one turn travel in far fewer packets, exactly once, intact, FIFO in order`,
    async (t) => {
      const seed = testSeed();
      t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
      const run = await burst(t, socket, null, seed);
      checkExactlyOnce(t, run, seed);
      // 18 records of 76 B fit a 1452-byte packet: about 56 DATA packets, plus a few acks and probes
      t.true(
        run.packetsSent < MESSAGES / 8,
        `seed ${seed}: ${run.packetsSent} packets for ${MESSAGES} messages (several messages per packet)`,
      );
    },
  );

  testFor(test, socket)(
    on +
      'coalesced packets lost (10 %), duplicated and reordered still deliver every message exactly once, FIFO in order',
    async (t) => {
      const seed = testSeed();
      t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
      // 5 bursts: some 300 DATA packets and their acks, so losses are certain (0.9^300 < 1e-13)
      const run = await burst(t, socket, 'loss=0.1,dup=0.05,reorder=0.05', seed, 5);
      checkExactlyOnce(t, run, seed);
      t.true(run.droppedLoss > 0, `seed ${seed}: the impairment really dropped datagrams`);
      t.true(
        run.packetsSent < (5 * MESSAGES) / 2,
        `seed ${seed}: ${run.packetsSent} packets, still coalesced`,
      );
    },
  );
}
