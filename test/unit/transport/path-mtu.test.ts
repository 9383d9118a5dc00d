import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { PathMtuProber, type PathMtuSettings } from '../../../src/transport/udp/path-mtu.js';

const TIMEOUT_MS = 25;
const RTT_MS = 1;

function settings(over: Partial<PathMtuSettings> = {}): PathMtuSettings {
  return {
    baseBytes: 1200,
    maxBytes: 65507,
    startBytes: 1452,
    granularityBytes: 32,
    maxProbes: 3,
    reprobeIntervalMs: 60_000,
    blackHoleLosses: 3,
    enabled: true,
    ...over,
  };
}

/** A simulated path: probes up to `mtu` bytes are acked one RTT later, bigger ones vanish. */
class Path {
  sizesProbed: number[] = [];
  private ackAtMs = Infinity;
  constructor(
    readonly clock: ManualClock,
    readonly prober: PathMtuProber,
    public mtu: number,
  ) {}

  /** Runs the prober for `durationMs` of simulated time in 1 ms steps. */
  run(durationMs: number): void {
    for (let i = 0; i < durationMs; i++) {
      this.clock.advance(1);
      const now = this.clock.nowMs();
      if (now >= this.ackAtMs) {
        this.ackAtMs = Infinity;
        this.prober.onProbeAcked(now);
      }
      const size = this.prober.poll(now, TIMEOUT_MS);
      if (size === 0) continue;
      this.prober.onProbeSent(size, now);
      this.sizesProbed.push(size);
      this.ackAtMs = size <= this.mtu ? now + RTT_MS : Infinity;
    }
  }
}

function setup(mtu: number, over: Partial<PathMtuSettings> = {}): Path {
  const clock = new ManualClock();
  return new Path(clock, new PathMtuProber(settings(over), clock.nowMs()), mtu);
}

test('starts at the start size and reaches the maximum in one probe when the path carries it', (t) => {
  const path = setup(65507);
  t.is(path.prober.currentBytes, 1452);
  path.run(10);
  t.is(path.prober.currentBytes, 65507);
  t.deepEqual(path.sizesProbed, [65507]);
  t.false(path.prober.isSearching);
});

test('converges to the largest working size within the granularity', (t) => {
  for (const mtu of [1452, 1500, 4000, 9000, 9001, 16_000, 65_000]) {
    const path = setup(mtu);
    path.run(5000);
    const got = path.prober.currentBytes;
    t.true(got <= mtu && got > mtu - 32, `mtu ${mtu}: settled at ${got}`);
    t.false(path.prober.isSearching, `mtu ${mtu}: search finished`);
    // no probe above the path's size was confirmed, and each failing size was tried maxProbes times
    for (const size of new Set(path.sizesProbed.filter((s) => s > mtu))) {
      t.is(path.sizesProbed.filter((s) => s === size).length, 3, `size ${size} tried 3 times`);
    }
  }
});

test('a probe lost maxProbes times lowers the ceiling: that size is never tried again in the search', (t) => {
  const path = setup(9000);
  path.run(200);
  t.is(path.sizesProbed.slice(0, 3).join(','), '65507,65507,65507');
  t.is(path.prober.counters.probesLost >= 3, true);
  path.run(5000);
  t.is(path.sizesProbed.filter((s) => s === 65507).length, 3);
  t.true(path.sizesProbed.slice(3).every((s) => s < 65507));
});

test('a disabled prober sends nothing and uses the maximum', (t) => {
  const path = setup(9000, { enabled: false });
  t.is(path.prober.currentBytes, 65507);
  path.run(1000);
  t.deepEqual(path.sizesProbed, []);
});

test('big packets lost in a row, a base probe acked: drops to the base and searches again', (t) => {
  const path = setup(9000);
  path.run(5000);
  const before = path.prober.currentBytes;
  t.true(before > 8968);
  path.mtu = 1400;
  const probed = path.sizesProbed.length;
  for (let i = 0; i < 3; i++) path.prober.onPacketLost(before);
  path.run(3 * TIMEOUT_MS + 3); // the current size is probed maxProbes times, then the base (acked)
  t.deepEqual(path.sizesProbed.slice(probed, probed + 4), [before, before, before, 1200]);
  t.is(path.prober.counters.blackHoles, 1);
  t.true(path.prober.currentBytes <= 1400);
  path.run(5000);
  const after = path.prober.currentBytes;
  t.true(after <= 1400 && after > 1400 - 32, `settled at ${after}`);
});

test('random loss with big acks in between never drops the size', (t) => {
  const path = setup(9000);
  path.run(5000);
  const size = path.prober.currentBytes;
  for (let i = 0; i < 1000; i++) {
    path.prober.onPacketLost(size);
    path.prober.onPacketLost(size);
    path.prober.onPacketAcked(size);
    path.run(1);
  }
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
});

test('a run of losses ended by a big ack before the confirmation is acked is not a black hole', (t) => {
  const path = setup(9000);
  path.run(5000);
  const size = path.prober.currentBytes;
  for (let i = 0; i < 5; i++) path.prober.onPacketLost(size);
  path.prober.onPacketAcked(size); // a big packet got through after all
  path.run(10);
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
});

test('end of a message: its last packets and their resends lost, no big ack possible, the path unchanged: no drop', (t) => {
  const path = setup(9000);
  path.run(5000);
  const size = path.prober.currentBytes;
  const probed = path.sizesProbed.length;
  // the last two packets of a message lost, then their resends lost too: nothing big left to be acked
  for (let i = 0; i < 4; i++) path.prober.onPacketLost(size);
  path.run(10);
  t.deepEqual(path.sizesProbed.slice(probed), [size], 'the suspicion probes the current size, not the base');
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
  // a new run of losses later is judged afresh, and again the current size answers
  for (let i = 0; i < 3; i++) path.prober.onPacketLost(size);
  path.run(10);
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
});

test('current-size probes lost to random loss fewer than maxProbes times, then acked: no drop', (t) => {
  const path = setup(9000);
  path.run(5000);
  const size = path.prober.currentBytes;
  for (let i = 0; i < 3; i++) path.prober.onPacketLost(size);
  path.mtu = 1400; // the next two current-size probes vanish ...
  path.run(2 * TIMEOUT_MS);
  path.mtu = 9000; // ... the third gets through
  path.run(2 * TIMEOUT_MS);
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
  t.false(path.sizesProbed.slice(-4).includes(1200), 'no base probe was needed');
});

test('a big packet acked while the current size is being confirmed ends the suspicion', (t) => {
  const path = setup(9000);
  path.run(5000);
  const size = path.prober.currentBytes;
  path.mtu = 1400; // confirmation probes vanish
  for (let i = 0; i < 3; i++) path.prober.onPacketLost(size);
  path.run(TIMEOUT_MS + 2);
  path.prober.onPacketAcked(size); // but a big data packet got through
  path.run(10 * TIMEOUT_MS);
  t.is(path.prober.counters.blackHoles, 0);
  t.is(path.prober.currentBytes, size);
});

test('small packets lost or acked do not count toward a black hole', (t) => {
  const path = setup(9000);
  path.run(5000);
  for (let i = 0; i < 10; i++) path.prober.onPacketLost(1200);
  path.run(10);
  t.is(path.prober.counters.blackHoles, 0);
});

test('re-probing after the interval finds a path that grew back', (t) => {
  const path = setup(1400, { reprobeIntervalMs: 10_000, startBytes: 1200 });
  path.run(5000);
  t.true(path.prober.currentBytes <= 1400);
  path.mtu = 9000;
  path.run(4000); // interval not over yet
  t.true(path.prober.currentBytes <= 1400);
  path.run(8000);
  const grown = path.prober.currentBytes;
  t.true(grown <= 9000 && grown > 9000 - 32, `grew to ${grown}`);
});

test('no re-probing when the interval is 0', (t) => {
  const path = setup(1400, { reprobeIntervalMs: 0, startBytes: 1200 });
  path.run(5000);
  const n = path.sizesProbed.length;
  path.mtu = 9000;
  path.run(100_000);
  t.is(path.sizesProbed.length, n);
});

test('the maximum at the start size: nothing to search', (t) => {
  const path = setup(9000, { maxBytes: 1452 });
  t.is(path.prober.currentBytes, 1452);
  path.run(100);
  t.deepEqual(path.sizesProbed, []);
});
