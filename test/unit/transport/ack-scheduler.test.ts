import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { AckScheduler } from '../../../src/transport/udp/ack-scheduler.js';

test('acks are batched: due after ackEveryPackets packets, not before', (t) => {
  const clock = new ManualClock();
  const acks = new AckScheduler(5, 4);
  for (let i = 0; i < 3; i++) {
    acks.onAckEliciting(clock.nowMs(), false);
    t.false(acks.isDue(clock.nowMs()), `not due after ${i + 1} packets`);
  }
  acks.onAckEliciting(clock.nowMs(), false);
  t.true(acks.isDue(clock.nowMs()));
  acks.onAckSent();
  t.false(acks.pending);
});

test('a lone packet is acked once ackDelayMs has passed since it arrived', (t) => {
  const clock = new ManualClock(1000);
  const acks = new AckScheduler(5, 8);
  acks.onAckEliciting(clock.nowMs(), false);
  clock.advance(4);
  acks.onAckEliciting(clock.nowMs(), false); // a later packet does not push the deadline out
  t.false(acks.isDue(clock.nowMs()));
  clock.advance(1);
  t.true(acks.isDue(clock.nowMs()));
  t.is(acks.dueAtMs(), 1005);
});

test('a gap or an explicit request is acked at once', (t) => {
  const clock = new ManualClock();
  const acks = new AckScheduler(50, 100);
  acks.onAckEliciting(clock.nowMs(), true);
  t.true(acks.isDue(clock.nowMs()));
});

test('nothing pending, nothing due; a delivery report waits at most the delay', (t) => {
  const clock = new ManualClock();
  const acks = new AckScheduler(5, 8);
  t.is(acks.dueAtMs(), Infinity);
  acks.onReportable(clock.nowMs());
  t.false(acks.isDue(clock.nowMs()));
  clock.advance(5);
  t.true(acks.isDue(clock.nowMs()));
});

test('with several senders each is acked every ackEveryPackets x senders packets, at most the initial window', (t) => {
  const packetsUntilAck = (senders: number): number => {
    const acks = new AckScheduler(5, 8, 32);
    const clock = new ManualClock();
    let n = 0;
    while (!acks.isDue(clock.nowMs()) && n < 1000) {
      acks.onAckEliciting(clock.nowMs(), false, senders);
      n++;
    }
    return n;
  };
  t.is(packetsUntilAck(1), 8, 'one sender: every ackEveryPackets');
  t.is(packetsUntilAck(2), 16, 'two senders: each half as often, the receiver sends as many acks');
  t.is(packetsUntilAck(4), 32);
  t.is(packetsUntilAck(8), 32, 'never more than the initial window: a small flow is not left to the timer');
  const acks = new AckScheduler(5, 8, 32);
  acks.onAckEliciting(0, true, 8);
  t.true(acks.isDue(0), 'a gap is still acked at once');
  const late = new AckScheduler(5, 8, 32);
  late.onAckEliciting(0, false, 8);
  t.false(late.isDue(4));
  t.true(late.isDue(5), 'the ack delay still bounds the wait');
});

test('the spacing never exceeds half the window advertised to the sender: a small share is not left to the timer', (t) => {
  // 8 senders of 64 KB packets: spacing min(8 x 8, 32) = 32, but each sender's window share is 16 packets
  const clock = new ManualClock();
  const acks = new AckScheduler(5, 8, 32);
  let n = 0;
  while (!acks.isDue(clock.nowMs()) && n < 16) {
    acks.onAckEliciting(clock.nowMs(), false, 8, 16);
    n++;
  }
  t.true(acks.isDue(clock.nowMs()), 'a whole window arrived and no ack is due before the ack delay');
  t.is(n, 8, 'acked after half the window');
  acks.onAckSent();
  acks.onAckEliciting(clock.nowMs(), false, 1, 3);
  t.true(acks.isDue(clock.nowMs()), 'a window of 3: acked after 1 (half rounded down, at least 1)');
  acks.onAckSent();
  const wide = new AckScheduler(5, 8, 32);
  for (let i = 0; i < 31; i++) wide.onAckEliciting(clock.nowMs(), false, 8, 1000);
  t.false(wide.isDue(clock.nowMs()), 'a wide window keeps the spacing');
});
