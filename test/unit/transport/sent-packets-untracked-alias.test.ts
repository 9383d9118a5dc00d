/**
 * Untracked packet numbers (ACK, HEARTBEAT, PROBE) are taken without `hasRoom`, so the next
 * number can run more than the ring's size past the oldest packet in flight; the peer then acks such an
 * untracked number (it records ACK packets too) and `ackOne` finds the slot of the old, still in-flight
 * packet (same slot, state IN_FLIGHT, slotPn not checked) and reported its records acked. Every slot access must check the slot's owner.
 */
import test from 'ava';
import { SentPackets, type SentPacketSink } from '../../../src/transport/udp/sent-packets.js';

class Sink implements SentPacketSink<string> {
  acked: string[] = [];
  lost: string[] = [];
  onPacketAcked(ref: string, fragment: number): void {
    this.acked.push(`${ref}${fragment}`);
  }
  onPacketLost(ref: string | null, fragment: number, pn: number): void {
    this.lost.push(`${ref}${fragment}@${pn}`);
  }
  onSpuriousLoss(): void {}
}

test('an ack of an untracked packet never acks an older tracked packet sharing its slot', (t) => {
  const sink = new Sink();
  const log = new SentPackets<string>(8, sink); // ring of 8
  const dataPn = log.takeTracked('A', 0, 100, 0); // pn 1, lost on the way (the peer never gets it)
  const untracked: number[] = [];
  for (let i = 0; i < 8; i++) untracked.push(log.takeUntracked()); // acks of the peer's data: 2..9
  t.deepEqual(untracked, [2, 3, 4, 5, 6, 7, 8, 9]);
  // the peer received every ACK packet (2..9) but not DATA 1: cumulative ack 0, one SACK range [2, 10)
  log.onAck(0, Float64Array.of(2), Uint32Array.of(8), 1, 1);
  t.deepEqual(sink.acked, [], `packet ${dataPn} was never received, yet its record was reported acked`);
  t.is(log.inFlight, 1);
});

test('a tracked packet older than the ring behind untracked numbers is still acked, lost, and freed', (t) => {
  const sink = new Sink();
  const log = new SentPackets<string>(8, sink);
  log.takeTracked('A', 0, 100, 0); // pn 1
  for (let i = 0; i < 19; i++) log.takeUntracked(); // 2..20: more than a ring past pn 1
  t.false(log.hasRoom(), 'no tracked number may land a ring past the oldest packet in flight');
  log.onAck(0, Float64Array.of(1), Uint32Array.of(1), 1, 5); // SACK [1, 2)
  t.deepEqual(sink.acked, ['A0']);
  t.is(log.inFlight, 0);
  t.true(log.hasRoom());
  const b = log.takeTracked('B', 0, 100, 10); // pn 21
  for (let i = 0; i < 19; i++) log.takeUntracked(); // 22..40
  t.is(log.onTimeout(10, 4), 1);
  t.deepEqual(sink.lost, [`B0@${b}`], 'the timeout declares only the tracked packet lost');
  t.is(log.oldestSentAtMs(), Infinity);
  t.is(log.leastUnacked, b);
});
