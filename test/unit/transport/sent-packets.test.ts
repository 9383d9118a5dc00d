import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import {
  PACKET_THRESHOLD,
  SentPackets,
  type SentPacketSink,
} from '../../../src/transport/udp/sent-packets.js';

class Sink implements SentPacketSink<string> {
  acked: string[] = [];
  lost: number[] = [];
  lostRecords: string[] = [];
  spurious = 0;
  onPacketAcked(ref: string, fragment: number): void {
    this.acked.push(`${ref}${fragment}`);
  }
  onPacketLost(ref: string | null, fragment: number, pn: number): void {
    if (this.lost[this.lost.length - 1] !== pn) this.lost.push(pn);
    this.lostRecords.push(`${ref}${fragment}@${pn}`);
  }
  onSpuriousLoss(): void {
    this.spurious++;
  }
}

const none = { starts: new Float64Array(16), lengths: new Uint32Array(16) };

function sendN(log: SentPackets<string>, n: number, nowMs: number): number[] {
  const pns: number[] = [];
  for (let i = 0; i < n; i++) pns.push(log.takeTracked('m', i, 100, nowMs));
  return pns;
}

test('packet numbers are never reused; acks resolve packets and give an RTT sample', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(16, sink);
  t.deepEqual(sendN(log, 3, clock.nowMs()), [1, 2, 3]);
  t.is(log.takeUntracked(), 4);
  clock.advance(40);
  t.is(log.onAck(2, none.starts, none.lengths, 0, clock.nowMs()), 40);
  t.deepEqual(sink.acked, ['m0', 'm1']);
  t.is(log.inFlight, 1);
  t.is(log.leastUnacked, 3);
});

test('a packet PACKET_THRESHOLD below an acked one is lost at once (repair on SACK evidence, no timeout)', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(64, sink);
  sendN(log, 10, clock.nowMs());
  clock.advance(1);
  const starts = Float64Array.of(2, 0);
  const lengths = Uint32Array.of(PACKET_THRESHOLD + 1, 0);
  log.onAck(0, starts, lengths, 1, clock.nowMs()); // 2..5 acked, 1 missing
  log.detectLosses(clock.nowMs(), 1000);
  t.deepEqual(sink.lost, [1]);
});

test('a packet older than 9/8 RTT is lost when a later one was acked', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(64, sink);
  sendN(log, 2, clock.nowMs());
  clock.advance(10);
  log.onAck(0, Float64Array.of(2), Uint32Array.of(1), 1, clock.nowMs());
  log.detectLosses(clock.nowMs(), 10);
  t.deepEqual(sink.lost, [], 'not yet: 10 ms < 9/8 x 10 ms');
  clock.advance(2);
  log.detectLosses(clock.nowMs(), 10);
  t.deepEqual(sink.lost, [1]);
});

test('an RTO expiry declares only the oldest packets lost (probes)', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(64, sink);
  sendN(log, 10, clock.nowMs());
  clock.advance(300);
  t.is(log.onTimeout(clock.nowMs() - 250, 2), 2);
  t.deepEqual(sink.lost, [1, 2]);
  t.is(log.inFlight, 8);
});

test('a late ack of a packet declared lost is spurious: the reordering threshold grows', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(64, sink);
  sendN(log, 20, clock.nowMs());
  log.onAck(0, Float64Array.of(2), Uint32Array.of(19), 1, clock.nowMs());
  log.detectLosses(clock.nowMs(), 1000);
  t.deepEqual(sink.lost, [1]);
  t.is(log.leastUnacked, 1, 'the peer is still told to report packet 1');
  log.onAck(0, Float64Array.of(1), Uint32Array.of(20), 1, clock.nowMs());
  t.is(sink.spurious, 1);
  t.is(log.packetThreshold, 20);
  t.true(log.timeThreshold > 9 / 8);
  log.pruneLost(clock.nowMs() + 1000, 10);
  t.is(log.leastUnacked, 21);
});

test('the ring refuses more packets than its capacity in flight', (t) => {
  const log = new SentPackets<string>(8, new Sink());
  sendN(log, 8, 0);
  t.false(log.hasRoom());
  t.throws(() => log.takeTracked('m', 0, 1, 0), { code: 'INTERNAL' } as never);
});

test('a packet carrying several records reports each of them once when acked or lost', (t) => {
  const clock = new ManualClock();
  const sink = new Sink();
  const log = new SentPackets<string>(64, sink);
  const first = log.takeTracked('a', 0, 0, clock.nowMs());
  log.addRecord('b', 0);
  log.addRecord('c', 0);
  const second = log.takeTracked(null, 0, 0, clock.nowMs());
  log.addRecord('d', 0);
  log.addRecord('e', 3);
  sendN(log, PACKET_THRESHOLD, clock.nowMs());
  clock.advance(5);
  // the first packet is acked, the second is lost by SACK evidence (later packets acked)
  log.onAck(first, Float64Array.of(second + 1), Uint32Array.of(PACKET_THRESHOLD), 1, clock.nowMs());
  t.is(log.ackedPackets, 1 + PACKET_THRESHOLD);
  t.deepEqual(sink.acked.slice(0, 3), ['a0', 'b0', 'c0']);
  log.detectLosses(clock.nowMs(), 1000);
  t.deepEqual(sink.lost, [second], 'the packet is lost once');
  t.deepEqual(sink.lostRecords, [`d0@${second}`, `e3@${second}`], 'each of its messages is reported');
});

test('the record ring bounds the records in flight and frees them with the oldest packet', (t) => {
  const clock = new ManualClock();
  const log = new SentPackets<string>(4, new Sink(), 8);
  t.is(log.recordRoom(), 8);
  const first = log.takeTracked('m', 0, 0, clock.nowMs());
  for (let i = 1; i < 6; i++) log.addRecord('m', i);
  log.takeTracked('n', 0, 0, clock.nowMs());
  log.addRecord('n', 1);
  t.is(log.recordRoom(), 0);
  t.false(log.hasRoom(), 'no room for another packet while the ring is full');
  t.throws(() => log.addRecord('x', 0), { code: 'INTERNAL' } as never);
  log.onAck(first, none.starts, none.lengths, 0, clock.nowMs());
  t.is(log.recordRoom(), 6, 'the acked oldest packet gave its six records back');
  t.true(log.hasRoom());
});
