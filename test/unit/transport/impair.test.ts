import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { isFerryError } from '../../../src/core/errors.js';
import { Impairment, impairmentFromEnv } from '../../../src/transport/impair/impairment.js';

interface Delivery {
  atMs: number;
  index: number;
  data: Buffer;
}

/** Sends `count` datagrams of `sizeBytes` (the first 4 bytes hold the index) through `imp`. */
function pump(imp: Impairment, clock: ManualClock, count: number, sizeBytes = 16, gapMs = 0): Delivery[] {
  const out: Delivery[] = [];
  const buf = Buffer.alloc(sizeBytes);
  for (let i = 0; i < count; i++) {
    buf.fill(0xa5);
    buf.writeUInt32BE(i, 0);
    // Snapshot at delivery time: a synchronous delivery is the caller's buffer, reused below.
    imp.process(buf, i, (d, index) => out.push({ atMs: clock.nowMs(), index, data: Buffer.from(d) }));
    buf.fill(0); // the caller reuses its buffer: anything held must be a copy
    if (gapMs > 0) clock.advance(gapMs);
  }
  return out;
}

/** |observed - n p| within `sd` standard deviations of a binomial(n, p). */
function withinBinomial(observed: number, n: number, p: number, sd = 5): boolean {
  return Math.abs(observed - n * p) <= sd * Math.sqrt(n * p * (1 - p));
}

test('with nothing configured every datagram is delivered at once, as the caller buffer', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ seed: 1 }, clock);
  const buf = Buffer.from('hello');
  const seen: Buffer[] = [];
  imp.process(buf, null, (d) => seen.push(d));
  t.is(seen.length, 1);
  t.is(seen[0], buf, 'no copy when nothing applies');
  t.is(clock.pendingTimers, 0);
  const s = imp.stats();
  t.is(s.datagramsIn, 1);
  t.is(s.datagramsDelivered, 1);
  t.is(s.seed, 1);
});

test('loss drops close to the configured fraction, and the counts add up', (t) => {
  const seed = 7;
  t.log(`seed ${seed}`);
  const clock = new ManualClock();
  const imp = new Impairment({ loss: 0.05, seed }, clock);
  const n = 100_000;
  const out = pump(imp, clock, n);
  const s = imp.stats();
  t.true(withinBinomial(s.droppedLoss, n, 0.05), `dropped ${s.droppedLoss} of ${n} (seed ${seed})`);
  t.is(out.length, n - s.droppedLoss);
  t.is(s.datagramsDelivered, out.length);
  t.true(
    out.every((d, i, a) => i === 0 || a[i - 1]!.index < d.index),
    'loss alone keeps order',
  );
});

test('the same seed gives the same decisions; another seed gives others', (t) => {
  const config = 'loss=0.1,dup=0.1,reorder=0.1,corrupt=0.1,jitterMs=5';
  const run = (seed: number): string => {
    const clock = new ManualClock();
    const imp = new Impairment(`${config},seed=${seed}`, clock);
    const out = pump(imp, clock, 2000, 16, 1);
    clock.advance(100);
    return out.map((d) => `${d.index}@${d.atMs.toFixed(3)}:${d.data.toString('hex')}`).join(' ');
  };
  t.is(run(42), run(42));
  t.not(run(42), run(43));
});

test('a seed picked at random is reported and replays the same decisions', (t) => {
  const clock = new ManualClock();
  const first = new Impairment({ loss: 0.3 }, clock);
  const a = pump(first, clock, 1000).map((d) => d.index);
  const seed = first.stats().seed;
  t.log(`seed ${seed}`);
  t.true(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff);
  const replay = new Impairment({ loss: 0.3, seed }, clock);
  t.deepEqual(
    pump(replay, clock, 1000).map((d) => d.index),
    a,
  );
});

test('burst loss drops runs of about burstLen datagrams', (t) => {
  const seed = 11;
  t.log(`seed ${seed}`);
  const clock = new ManualClock();
  const imp = new Impairment({ burstLoss: 0.01, burstLen: 5, seed }, clock);
  const n = 100_000;
  const got = new Uint8Array(n);
  for (const d of pump(imp, clock, n)) got[d.index] = 1;
  let runs = 0;
  let lost = 0;
  for (let i = 0; i < n; i++) {
    if (got[i]) continue;
    lost++;
    if (i === 0 || got[i - 1]) runs++;
  }
  const s = imp.stats();
  t.is(s.droppedBurst, lost);
  t.is(s.droppedLoss, 0);
  const meanRun = lost / runs;
  t.true(meanRun > 4 && meanRun < 6, `mean burst ${meanRun.toFixed(2)} (seed ${seed})`);
  // A burst starts on about 1 % of the datagrams that are not already in one.
  t.true(withinBinomial(s.bursts, n - lost, 0.01), `bursts ${s.bursts} (seed ${seed})`);
});

test('duplication delivers identical extra copies at about the configured rate', (t) => {
  const seed = 3;
  t.log(`seed ${seed}`);
  const clock = new ManualClock();
  const imp = new Impairment({ dup: 0.05, seed }, clock);
  const n = 100_000;
  const out = pump(imp, clock, n);
  const s = imp.stats();
  t.is(out.length, n + s.duplicated);
  t.true(withinBinomial(s.duplicated, n, 0.05), `duplicated ${s.duplicated} (seed ${seed})`);
  const perIndex = new Uint8Array(n);
  for (const d of out) perIndex[d.index]!++;
  t.true(perIndex.every((c) => c === 1 || c === 2));
});

test('reordering delivers every datagram once, some after later ones, from copies', (t) => {
  const seed = 5;
  t.log(`seed ${seed}`);
  const clock = new ManualClock();
  const imp = new Impairment({ reorder: 0.2, reorderMs: 10, seed }, clock);
  const n = 1000;
  const out = pump(imp, clock, n, 32, 1);
  clock.advance(20);
  t.deepEqual(
    out.map((d) => d.index).sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
  const inversions = out.filter((d, i) => i > 0 && d.index < out[i - 1]!.index).length;
  t.true(inversions > 100, `only ${inversions} datagrams arrived after a later one (seed ${seed})`);
  t.true(withinBinomial(imp.stats().reordered, n, 0.2), `reordered ${imp.stats().reordered}`);
  for (const d of out) {
    t.is(d.data.readUInt32BE(0), d.index, 'held datagrams are copies, not the reused caller buffer');
  }
});

test('corruption flips exactly corruptBits bits and keeps the length; the caller buffer is untouched', (t) => {
  for (const bits of [1, 3]) {
    const clock = new ManualClock();
    const imp = new Impairment({ corrupt: 1, corruptBits: bits, seed: 9 }, clock);
    const original = Buffer.from('0123456789abcdef0123456789abcdef');
    const input = Buffer.from(original);
    const seen: Buffer[] = [];
    for (let i = 0; i < 100; i++) imp.process(input, null, (d) => seen.push(d));
    t.true(input.equals(original), 'the caller buffer is not modified');
    t.is(seen.length, 100);
    for (const d of seen) {
      t.is(d.length, original.length);
      let flipped = 0;
      for (let i = 0; i < d.length; i++) {
        let x = d[i]! ^ original[i]!;
        for (; x; x &= x - 1) flipped++;
      }
      t.is(flipped, bits);
    }
    t.is(imp.stats().corrupted, 100);
  }
});

test('an empty datagram passes corruption unchanged', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ corrupt: 1, seed: 9 }, clock);
  const seen: Buffer[] = [];
  imp.process(Buffer.alloc(0), null, (d) => seen.push(d));
  t.is(seen.length, 1);
  t.is(imp.stats().corrupted, 0);
});

test('delay holds every datagram exactly delayMs, in order', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ delayMs: 20, seed: 1 }, clock);
  const out = pump(imp, clock, 10, 16, 1);
  t.is(out.length, 0, 'nothing before 20 ms');
  clock.advance(30);
  t.deepEqual(
    out.map((d) => [d.index, d.atMs]),
    Array.from({ length: 10 }, (_, i) => [i, i + 20]),
  );
  t.is(imp.stats().heldDatagrams, 0);
});

test('jitter spreads delivery over delayMs ± jitterMs', (t) => {
  const seed = 13;
  t.log(`seed ${seed}`);
  const clock = new ManualClock();
  const imp = new Impairment({ delayMs: 20, jitterMs: 10, seed }, clock);
  const sentAt = new Map<number, number>();
  const out: Delivery[] = [];
  const buf = Buffer.alloc(8);
  for (let i = 0; i < 1000; i++) {
    sentAt.set(i, clock.nowMs());
    imp.process(buf, i, (d, index) => out.push({ atMs: clock.nowMs(), index, data: d }));
    clock.advance(0.5);
  }
  clock.advance(40);
  t.is(out.length, 1000);
  const delays = out.map((d) => d.atMs - sentAt.get(d.index)!);
  t.true(
    delays.every((ms) => ms >= 10 && ms <= 30),
    `delays ${Math.min(...delays)}..${Math.max(...delays)}`,
  );
  t.true(delays.some((ms) => ms < 12) && delays.some((ms) => ms > 28), 'jitter covers its range');
  const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
  t.true(Math.abs(mean - 20) < 1, `mean delay ${mean} (seed ${seed})`);
});

test('one timer at a time, whatever the number of held datagrams', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ delayMs: 20, jitterMs: 15, reorder: 0.3, seed: 2 }, clock);
  const buf = Buffer.alloc(8);
  let delivered = 0;
  for (let i = 0; i < 500; i++) {
    imp.process(buf, null, () => delivered++);
    t.true(clock.pendingTimers <= 1);
    clock.advance(0.1);
  }
  t.true(imp.stats().heldDatagrams > 100);
  clock.advance(100);
  t.is(delivered, 500);
  t.is(clock.pendingTimers, 0);
});

test('the rate limit spaces datagrams by size / rate', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ rateBytesPerSec: 1000, seed: 1 }, clock);
  const out = pump(imp, clock, 5, 100);
  t.is(out.length, 0, 'with no burst, even the first waits its serialisation time');
  clock.advance(1000);
  t.deepEqual(
    out.map((d) => [d.index, d.atMs]),
    [
      [0, 100],
      [1, 200],
      [2, 300],
      [3, 400],
      [4, 500],
    ],
  );
  // After an idle second the link is free again: the next datagram waits only its own time.
  clock.advance(1000);
  const later = pump(imp, clock, 1, 100);
  clock.advance(200);
  t.deepEqual(
    later.map((d) => d.atMs),
    [clock.nowMs() - 100],
  );
});

test('a token bucket burst passes at once, then the rate applies', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ rateBytesPerSec: 1000, rateBurstBytes: 300, seed: 1 }, clock);
  const out = pump(imp, clock, 5, 100);
  t.deepEqual(
    out.map((d) => d.index),
    [0, 1, 2],
    'the burst is delivered synchronously',
  );
  clock.advance(1000);
  t.deepEqual(
    out.map((d) => d.atMs),
    [0, 0, 0, 100, 200],
  );
});

test('the rate-limit queue is bounded: overflow is dropped and counted', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ rateBytesPerSec: 10_000, rateQueueBytes: 65_507, seed: 1 }, clock);
  const out = pump(imp, clock, 10, 10_000);
  const s = imp.stats();
  t.is(s.droppedRateQueue, 4, '6 x 10 000 bytes fit in a 65 507-byte queue, 7 do not');
  t.is(s.heldDatagrams, 6);
  clock.advance(10_000);
  t.deepEqual(
    out.map((d) => [d.index, d.atMs]),
    Array.from({ length: 6 }, (_, i) => [i, (i + 1) * 1000]),
  );
});

test('held datagrams are bounded by maxHeldDatagrams and maxHeldBytes', (t) => {
  const clock = new ManualClock();
  const byCount = new Impairment({ delayMs: 10, maxHeldDatagrams: 5, seed: 1 }, clock);
  pump(byCount, clock, 8, 100);
  t.is(byCount.stats().heldDatagrams, 5);
  t.is(byCount.stats().droppedHeldLimit, 3);

  const byBytes = new Impairment({ delayMs: 10, maxHeldBytes: 100_000, seed: 1 }, clock);
  pump(byBytes, clock, 5, 30_000);
  t.is(byBytes.stats().heldDatagrams, 3);
  t.is(byBytes.stats().heldBytes, 90_000);
  t.is(byBytes.stats().droppedHeldLimit, 2);
  byCount.close();
  byBytes.close();
});

test('close cancels pending deliveries and drops later datagrams', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ delayMs: 50, seed: 1 }, clock);
  const out = pump(imp, clock, 3);
  t.is(clock.pendingTimers, 1);
  imp.close();
  t.is(clock.pendingTimers, 0);
  clock.advance(100);
  pump(imp, clock, 2);
  clock.advance(100);
  t.is(out.length, 0);
  const s = imp.stats();
  t.is(s.droppedClosed, 5);
  t.is(s.heldDatagrams, 0);
  imp.close(); // idempotent
});

test('a deliver callback may feed the impairment again', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment({ delayMs: 5, seed: 1 }, clock);
  const hops: number[] = [];
  const bounce = (d: Buffer, hop: number): void => {
    hops.push(clock.nowMs());
    if (hop < 3) imp.process(d, hop + 1, bounce);
  };
  imp.process(Buffer.from('x'), 0, bounce);
  clock.advance(100);
  t.deepEqual(hops, [5, 10, 15, 20]);
});

test('bad settings are refused with INVALID_CONFIG naming the fix', (t) => {
  const clock = new ManualClock();
  for (const bad of ['loss=2', 'dup=-0.1', 'nosuch=1', 'delayMs=abc', 'seed=1.5', 'loss']) {
    const err = t.throws(() => new Impairment(bad, clock));
    t.true(isFerryError(err, 'INVALID_CONFIG'), `${bad}: ${String(err)}`);
  }
  t.regex(t.throws(() => new Impairment('loss=2', clock))!.message, /loss.*0 to 1/);
});

test('a key=value string and units are accepted', (t) => {
  const imp = new Impairment(
    'loss=0.05, dup=0.01, delayMs=1s, rateBytesPerSec=1MiB, seed=7',
    new ManualClock(),
  );
  t.is(imp.config.loss, 0.05);
  t.is(imp.config.delayMs, 1000);
  t.is(imp.config.rateBytesPerSec, 1024 * 1024);
  t.is(imp.stats().seed, 7);
});

test('impairmentFromEnv reads FERRY_IMPAIR', (t) => {
  t.is(impairmentFromEnv({ FERRY_IMPAIR: 'loss=0.05,dup=0.01,seed=7' }), 'loss=0.05,dup=0.01,seed=7');
  t.is(impairmentFromEnv({ FERRY_IMPAIR: '  ' }), null);
  t.is(impairmentFromEnv({}), null);
});

test('mtu drops datagrams larger than it; setMtu changes it while running; 0 means no limit', (t) => {
  const clock = new ManualClock();
  const imp = new Impairment('mtu=1400,seed=1', clock);
  t.is(imp.mtu, 1400);
  t.is(pump(imp, clock, 5, 1400).length, 5, 'exactly the mtu passes');
  t.is(pump(imp, clock, 5, 1401).length, 0);
  t.is(imp.stats().droppedMtu, 5);
  imp.setMtu(9000);
  t.is(pump(imp, clock, 5, 9000).length, 5);
  t.is(pump(imp, clock, 5, 9001).length, 0);
  imp.setMtu(0);
  t.is(pump(imp, clock, 5, 65_507).length, 5);
  t.is(imp.stats().droppedMtu, 10);
  const bad = t.throws(() => imp.setMtu(70_000));
  t.true(isFerryError(bad) && bad.code === 'INVALID_CONFIG');
  t.is(imp.mtu, 0, 'a refused value changes nothing');
});
