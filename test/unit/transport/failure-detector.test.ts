import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { FailureDetector, STALL_CREDIT_MS } from '../../../src/transport/failure-detector.js';

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

test("a stall of this process (no check for longer than STALL_CREDIT_MS) is not the peer's silence", (t) => {
  const clock = new ManualClock();
  const fd = new FailureDetector(1000, 1000, 3000, clock.nowMs());
  clock.advance(10);
  t.false(fd.isDead(clock.nowMs()));
  // the event loop was blocked (or the process stopped) for 5 s: the peer's datagrams wait unread
  clock.advance(5000);
  t.false(fd.isDead(clock.nowMs()), 'not dead on the first check after a stall');
  fd.onHeard(clock.nowMs()); // the waiting datagrams are read next
  // a peer that stays silent while this process runs is still dead after heartbeatTimeoutMs
  let deadAfter = -1;
  const heard = clock.nowMs();
  for (let step = 0; step < 400 && deadAfter < 0; step++) {
    clock.advance(10);
    if (fd.isDead(clock.nowMs())) deadAfter = clock.nowMs() - heard;
  }
  t.is(deadAfter, 3000);
});

test('checks closer together than STALL_CREDIT_MS get no credit', (t) => {
  const clock = new ManualClock();
  const fd = new FailureDetector(1000, 1000, 3000, clock.nowMs());
  let deadAt = -1;
  for (let step = 0; step < 20 && deadAt < 0; step++) {
    clock.advance(STALL_CREDIT_MS);
    if (fd.isDead(clock.nowMs())) deadAt = clock.nowMs();
  }
  t.is(deadAt, Math.ceil(3000 / STALL_CREDIT_MS) * STALL_CREDIT_MS);
});
