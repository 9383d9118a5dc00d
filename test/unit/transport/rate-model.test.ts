import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { CongestionController, Pacer } from '../../../src/transport/udp/congestion.js';
import { DeliveryRateModel, STARTUP_GAIN } from '../../../src/transport/udp/rate-model.js';
import { SentPackets, type SentPacketSink } from '../../../src/transport/udp/sent-packets.js';
import { Prng } from '../../../src/transport/impair/prng.js';

class NullSink implements SentPacketSink<string> {
  onPacketAcked(): void {}
  onPacketLost(): void {}
  onSpuriousLoss(): void {}
}

const CHUNK = 1000;

test('the log measures delivery rate (packets) over a packet’s time in flight, and counts round trips', (t) => {
  const clock = new ManualClock();
  const log = new SentPackets<string>(64, new NullSink());
  for (let i = 0; i < 10; i++) log.takeTracked('m', i, 100, clock.nowMs());
  clock.advance(10);
  log.onAck(10, new Float64Array(16), new Uint32Array(16), 0, clock.nowMs());
  t.is(log.ratePacketsPerMs, 1, '10 packets delivered in 10 ms');
  t.true(log.roundEnded);
  t.false(log.rateAppLimited);
  t.is(log.inFlight, 0);
  log.takeTracked('m', 0, 100, clock.nowMs());
  log.markAppLimited();
  log.takeTracked('m', 1, 100, clock.nowMs());
  clock.advance(5);
  log.onAck(12, new Float64Array(16), new Uint32Array(16), 0, clock.nowMs());
  t.true(log.rateAppLimited, 'a packet sent with nothing else to send gives an app-limited sample');
});

test('app-limited samples never lower the bandwidth estimate; full ones age out of the window', (t) => {
  const m = new DeliveryRateModel(4, 10_000, 0);
  m.onSample(500, false, true, 0, 10);
  t.is(m.btlBwPacketsPerMs, 500);
  for (let i = 0; i < 20; i++) m.onSample(50, true, true, 0, 10);
  t.is(m.btlBwPacketsPerMs, 500, 'a quiet session keeps what it measured while busy');
  for (let i = 0; i < 20; i++) m.onSample(200, false, true, 0, 10);
  t.is(m.btlBwPacketsPerMs, 200, 'the filter forgets a rate not seen for BW_WINDOW_ROUNDS full rounds');
});

test('startup ends after three rounds without 25 % growth, drain ends at the BDP, then probe cycles', (t) => {
  const m = new DeliveryRateModel(4, 10_000, 0);
  t.is(m.state, 'startup');
  t.is(m.pacingGain, STARTUP_GAIN);
  m.onSample(100, false, true, 1e9, 10);
  m.onSample(200, false, true, 1e9, 10); // each sample's round is judged when the next round starts
  let flatRounds = 0;
  while (m.state === 'startup' && flatRounds < 10) {
    m.onSample(215, false, true, 1e9, 10);
    flatRounds++;
  }
  t.is(flatRounds, 4, 'the round that grew to 200, then three rounds below 250');
  t.is(m.state, 'drain');
  t.true(m.pacingGain < 1);
  m.onSample(215, false, false, 215 * 10, 10);
  t.is(m.state, 'probeBw');
  const gains: number[] = [];
  for (let i = 0; i < 8; i++) {
    gains.push(m.pacingGain);
    m.onSample(215, false, true, 0, 10);
  }
  t.deepEqual(gains, [1.25, 0.75, 1, 1, 1, 1, 1, 1]);
  t.is(Math.round(m.cwndPackets(10)), 4300, 'window = 2 x BDP');
  m.onPersistentCongestion();
  t.is(m.state, 'startup');
  t.is(m.btlBwPacketsPerMs, 107.5);
});

/**
 * A simulated path: a bottleneck that serves `rateBytesPerMs` in FIFO order, a fixed propagation
 * delay, random loss at the bottleneck. The sender is the real log, controller and pacer.
 */
function simulate(
  seed: number,
  rateBytesPerMs: number,
  rttMs: number,
  loss: number,
  durationMs: number,
): { goodputBytesPerMs: number; maxQueueBytes: number; state: string } {
  const prng = new Prng(seed);
  const clock = new ManualClock();
  const log = new SentPackets<string>(65536, new NullSink());
  const cc = new CongestionController(10, 4, 30_000, 0);
  const pacer = new Pacer(10, 2);
  const queue: number[] = [];
  let served = 0;
  const acks: { pn: number; atMs: number }[] = [];
  let lateDelivered = 0;
  let maxQueueBytes = 0;
  const rtt = { min: Infinity };
  const starts = new Float64Array(1);
  const lengths = Uint32Array.of(1);
  const stepMs = 0.25;
  for (let now = 0; now < durationMs; now += stepMs) {
    clock.advance(stepMs);
    pacer.refill(now, cc.pacingPacketsPerMs(Number.isFinite(rtt.min) ? rtt.min : 100));
    const window = cc.windowPackets(rtt.min);
    while (log.inFlight < window && pacer.canSend() && log.hasRoom()) {
      queue.push(log.takeTracked('m', 0, CHUNK, now));
      pacer.onSent();
    }
    served += rateBytesPerMs * stepMs;
    while (served >= CHUNK && queue.length > 0) {
      served -= CHUNK;
      const pn = queue.shift()!;
      if (!prng.chance(loss)) acks.push({ pn, atMs: now + rttMs });
    }
    if (queue.length === 0) served = 0;
    if (now > durationMs / 2) maxQueueBytes = Math.max(maxQueueBytes, queue.length * CHUNK);
    while (acks.length > 0 && acks[0]!.atMs <= now) {
      const a = acks.shift()!;
      starts[0] = a.pn;
      const sample = log.onAck(0, starts, lengths, 1, now);
      if (sample >= 0) {
        rtt.min = Math.min(rtt.min, sample);
        cc.model.onRttSample(sample);
      }
      cc.model.onSample(log.ratePacketsPerMs, log.rateAppLimited, log.roundEnded, log.inFlight, rtt.min);
      if (now > durationMs / 2) lateDelivered += CHUNK;
    }
    log.detectLosses(now, rttMs);
  }
  return {
    goodputBytesPerMs: lateDelivered / (durationMs / 2),
    maxQueueBytes,
    state: cc.model.state,
  };
}

for (const loss of [0, 0.01, 0.05]) {
  test(`simulated 10 MB/s, 20 ms path at ${loss * 100} % random loss: near capacity, short queue`, (t) => {
    const seed = 1000 + loss * 1000;
    t.log(`seed ${seed}`);
    const rate = 10_000; // bytes per ms
    const r = simulate(seed, rate, 20, loss, 4000);
    t.is(r.state, 'probeBw');
    t.true(
      r.goodputBytesPerMs >= 0.9 * rate * (1 - loss),
      `goodput ${r.goodputBytesPerMs} of ${rate} at loss ${loss}`,
    );
    const bdpBytes = rate * 20;
    t.true(r.maxQueueBytes <= 1.5 * bdpBytes, `queue ${r.maxQueueBytes} vs BDP ${bdpBytes}`);
  });
}
