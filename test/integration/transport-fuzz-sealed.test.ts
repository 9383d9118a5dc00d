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
import { runSealedSessionFuzz, sealedFuzzVerdict } from '../../bench/transport/sealed-session-fuzz.js';
import { requestFuzzVerdict, runSealedRequestFuzz } from '../../bench/transport/sealed-request-fuzz.js';
import { testSeed } from '../helpers/seed.js';

const DATAGRAMS = 100_000;
const REQUESTS = 10_000;

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
