import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { FailureDetector } from '../../../src/transport/failure-detector.js';

test('a busy session sends no heartbeat; an idle one does after heartbeatStartMs', (t) => {
  const clock = new ManualClock();
  const fd = new FailureDetector(1000, 1000, 3000, clock.nowMs());
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    fd.onSent(clock.nowMs());
    fd.onHeard(clock.nowMs());
    t.false(fd.heartbeatDue(clock.nowMs()));
  }
  clock.advance(999);
  t.false(fd.heartbeatDue(clock.nowMs()));
  clock.advance(1);
  t.true(fd.heartbeatDue(clock.nowMs()));
});

test('a silent peer is dead after exactly heartbeatTimeoutMs (3 intervals by default), not before', (t) => {
  const clock = new ManualClock();
  const fd = new FailureDetector(1000, 1000, 3000, clock.nowMs());
  let heartbeats = 0;
  let deadAt = -1;
  for (let step = 0; step < 400 && deadAt < 0; step++) {
    clock.advance(10);
    const now = clock.nowMs();
    if (fd.heartbeatDue(now)) {
      fd.onHeartbeatSent(now);
      heartbeats++;
    }
    if (fd.isDead(now)) deadAt = now;
  }
  t.is(deadAt, 3000);
  // idle heartbeat at 1 s, then probing 4 times per interval while silent
  t.true(heartbeats >= 5, `probed ${heartbeats} times`);
});

test('hearing the peer keeps it alive', (t) => {
  const clock = new ManualClock();
  const fd = new FailureDetector(1000, 1000, 3000, clock.nowMs());
  clock.advance(2900);
  fd.onHeard(clock.nowMs());
  clock.advance(2900);
  t.false(fd.isDead(clock.nowMs()));
  clock.advance(100);
  t.true(fd.isDead(clock.nowMs()));
});
