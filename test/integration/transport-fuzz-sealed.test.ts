/**
 * Fuzzing an ENCRYPTED session from inside, with valid keys: 100 000 datagrams of an attacker that
 * completed an honest handshake (bench/transport/sealed-session-fuzz.ts, whose benchmark run sends
 * 1 000 000): made-up and mutated records sealed with the session's keys, validly sealed packets
 * with bits flipped in the header, body or tag, cut or extended, and replays. Every packet that
 * authenticates must be one sealed validly and sent once; the drop counters must grow by exactly
 * the mutated and replayed ones (plus what was refused after the open). Then transfer requests with
 * made-up and mutated contents to a FerryServer over an encrypted session
 * (bench/transport/sealed-request-fuzz.ts). After each: memory back, the endpoint or server alive
 * and serving a real client. One fuzzer at a time: the heap is measured per process.
 */
import test from 'ava';
import { Endpoint } from '../../src/index.js';
import {
  hijackSealed,
  runSealedSessionFuzz,
  seal,
  sealedFuzzVerdict,
} from '../../bench/transport/sealed-session-fuzz.js';
import { encodePacket, PacketType } from '../helpers/raw-udp.js';
import { requestFuzzVerdict, runSealedRequestFuzz } from '../../bench/transport/sealed-request-fuzz.js';
import { testSeed } from '../helpers/seed.js';

const DATAGRAMS = 100_000;
const REQUESTS = 10_000;

test.serial(
  'udp, encrypted: validly sealed packets numbered 2^31 and 2^40 above the ack are dropped as malformed; the receiver does not crash writing its ACK',
  async (t) => {
    const opts = {
      encrypt: true,
      socket: 'js' as const,
      impair: null,
      secret: 'far-packet-number-secret-0123456789',
    };
    const server = await Endpoint.create(opts);
    t.teardown(() => server.close());
    const client = await Endpoint.create(opts);
    t.teardown(() => client.close());
    const attacker = await Endpoint.create(opts);
    t.teardown(() => attacker.close());
    const got: string[] = [];
    server.onMessage((m) => {
      got.push(Buffer.from(m.payload).toString());
    });
    const realPeer = await client.connect(server.address);
    await attacker.connect(server.address);
    const h = hijackSealed(attacker, new Set(), () => undefined);
    const before = server.stats().dropped.malformed!;
    for (const jump of [2 ** 31, 2 ** 40]) {
      const packet = encodePacket({
        type: PacketType.HEARTBEAT,
        connectionId: h.remoteConnectionId,
        packetNumber: jump + h.session.sent.takeUntracked(),
        leastUnacked: 1,
        payload: Buffer.alloc(0),
      });
      const d = seal(h.session.sealer!, packet);
      await new Promise<void>((resolve) =>
        h.socket.send(d, server.address.port, server.address.host, () => resolve()),
      );
    }
    for (let i = 0; i < 500 && server.stats().dropped.malformed! < before + 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    t.is(server.stats().dropped.malformed! - before, 2, 'both far packet numbers dropped as malformed');
    await client.send(realPeer, Buffer.from('after')).delivered;
    t.deepEqual(got, ['after']);
    t.is(server.peers().length, 2);
    h.release();
  },
);

test.serial(
  'udp, encrypted: 100 000 sealed, bit-flipped and replayed datagrams with valid keys: no forgery or replay opens, every one counted, memory back',
  async (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
    const r = await runSealedSessionFuzz(DATAGRAMS, seed);
    t.log(
      `${r.datagrams} datagrams in ${r.seconds.toFixed(1)} s: sent ${JSON.stringify(r.sent)}, opened ${r.opened}, ` +
        `dropped ${JSON.stringify(r.dropped)}; receive memory peak ${r.receiveMemory.peakBytes} B; ` +
        `arrayBuffers ${r.arrayBuffers.startBytes} -> ${r.arrayBuffers.endBytes} B`,
    );
    t.is(r.forgedAccepted, 0, `forged or replayed packets accepted (first: ${r.firstForged}), seed ${seed}`);
    t.true(r.sent.mutated > DATAGRAMS * 0.2 && r.sent.replayed > DATAGRAMS * 0.05, JSON.stringify(r.sent));
    t.true(r.dropped.badSeal! > 0 && r.dropped.replayed! > 0, JSON.stringify(r.dropped));
    t.true(r.refusedAfterOpen > 0, 'some sealed plaintexts were refused after authentication');
    t.deepEqual(sealedFuzzVerdict(r), [], `seed ${seed}`);
  },
);

test.serial(
  'transfer, encrypted: 10 000 made-up and mutated requests: answered or ignored, server alive and serving, memory back',
  async (t) => {
    const seed = testSeed();
    t.log(`seed ${seed} (rerun with FERRY_TEST_SEED=${seed})`);
    const r = await runSealedRequestFuzz(REQUESTS, seed);
    t.log(
      `${r.requests} requests in ${r.seconds.toFixed(1)} s: ${r.replies.ok} ok, ${r.replies.error} errors ` +
        `${JSON.stringify(r.replies.byCode)}, ${r.unanswered} unanswered; INTERNAL ${r.internalErrors}` +
        `${r.firstInternal ? ` (first: ${r.firstInternal})` : ''}`,
    );
    t.true(r.replies.ok > 0 && r.replies.error > REQUESTS / 2, JSON.stringify(r.replies));
    t.deepEqual(requestFuzzVerdict(r), [], `seed ${seed}`);
  },
);
