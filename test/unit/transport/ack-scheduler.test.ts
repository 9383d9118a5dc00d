import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { AckScheduler } from '../../../src/transport/ack-scheduler.js';

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
