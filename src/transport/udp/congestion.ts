/**
 * Congestion window and pacing.
 *
 * Why: a sender without rate control overruns the receiver and the kernel buffers (uftp's tens of
 * thousands of NAKs in BASELINES.md). Once the first delivery rate is measured, the rate model
 * (rate-model.ts, BBR style) decides: pacing at gain x bottleneck bandwidth, window gain x BDP, loss
 * ignored as a signal. Until then (the first round trip) a classic window applies: slow start from
 * the initial window, pacing at cwnd / SRTT. That window also answers loss, gently (BETA) and only
 * while the RTT shows a queue, so random loss on a lossy link never collapses it; persistent RTO
 * expiries reset both the window and the model.
 */
import { DeliveryRateModel } from './rate-model.js';

export const BETA = 0.7;
/** An RTT above FACTOR x min RTT + SLACK counts as a growing queue. */
const QUEUE_RTT_FACTOR = 2;
const QUEUE_RTT_SLACK_MS = 10;
/** Retransmission timeouts in a row (no ack between) that count as persistent congestion. */
export const PERSISTENT_TIMEOUTS = 3;
/** Pacing runs this much faster than cwnd/RTT (more in slow start) so it never becomes the limit. */
const PACING_GAIN = 1.25;
const SLOW_START_PACING_GAIN = 2;

export class CongestionController {
  cwndPackets: number;
  ssthreshPackets = Infinity;
  /** Losses of packets numbered below this belong to the current epoch and do not shrink again. */
  private recoveryEndPn = 0;

  /** The path model that takes over once it has a sample. */
  readonly model: DeliveryRateModel;

  constructor(
    initialPackets: number,
    private readonly minPackets: number,
    private readonly maxPackets: number,
    /** Time acks may lag (the peer's ack delay plus timer granularity): part of what the window must hold. */
    ackLagMs = 0,
  ) {
    this.cwndPackets = Math.max(minPackets, Math.min(initialPackets, maxPackets));
    this.model = new DeliveryRateModel(minPackets, maxPackets, ackLagMs);
  }

  /** Packets that may be in flight: the model's window once it has a sample, else the classic one. */
  windowPackets(minRttMs: number): number {
    if (!this.model.ready) return this.cwndPackets;
    return this.model.cwndPackets(minRttMs);
  }

  /** Pacing rate in packets per ms. */
  pacingPacketsPerMs(srttMs: number): number {
    if (this.model.ready) return this.model.pacingRatePacketsPerMs();
    const gain = this.inSlowStart ? SLOW_START_PACING_GAIN : PACING_GAIN;
    return (gain * this.cwndPackets) / Math.max(srttMs, 0.05);
  }

  get inSlowStart(): boolean {
    return this.cwndPackets < this.ssthreshPackets;
  }

  /**
   * `count` packets were acked; `rttMs` is the latest sample, `minRttMs` the smallest seen. A round
   * trip well above the minimum means a queue is building (on loopback: the receiver's socket
   * buffer): leave slow start and stop growing, instead of filling the queue until it drops.
   */
  onAcked(count: number, rttMs: number, minRttMs: number): void {
    if (isQueueing(rttMs, minRttMs)) {
      if (this.inSlowStart) this.ssthreshPackets = this.cwndPackets;
      return;
    }
    const grow = this.inSlowStart ? count : count / this.cwndPackets;
    this.cwndPackets = Math.min(this.maxPackets, this.cwndPackets + grow);
  }

  /**
   * Packet `pn` was lost; `nextPn` is the next number to be sent (end of the new epoch). A loss while
   * the RTT shows no queue is taken for random loss (a lossy link, corruption) and leaves the window
   * alone; a loss with a queue building is congestion and shrinks it, once per epoch.
   */
  onLoss(pn: number, nextPn: number, rttMs: number, minRttMs: number): void {
    if (pn < this.recoveryEndPn) return;
    if (!isQueueing(rttMs, minRttMs)) {
      this.randomLosses++;
      return;
    }
    this.recoveryEndPn = nextPn;
    this.cwndBeforeLossPackets = this.cwndPackets;
    this.ssthreshBeforeLossPackets = this.ssthreshPackets;
    this.cwndPackets = Math.max(this.minPackets, this.cwndPackets * BETA);
    this.ssthreshPackets = this.cwndPackets;
  }

  /** Losses taken for random (non-congestion) loss. */
  randomLosses = 0;

  /** The last reduction was for a loss that was only reordering (Eifel-style undo). */
  onSpuriousLoss(): void {
    if (this.cwndBeforeLossPackets <= this.cwndPackets) return;
    this.cwndPackets = this.cwndBeforeLossPackets;
    this.ssthreshPackets = this.ssthreshBeforeLossPackets;
  }

  private cwndBeforeLossPackets = 0;
  private ssthreshBeforeLossPackets = Infinity;

  /**
   * The retransmission timer fired `consecutive` times without an ack in between. One expiry is a
   * probe (tail loss, a stalled event loop); repeated expiries mean the path is congested or gone.
   */
  onTimeout(nextPn: number, consecutive: number): void {
    if (consecutive < PERSISTENT_TIMEOUTS) return;
    this.model.onPersistentCongestion();
    this.recoveryEndPn = nextPn;
    this.cwndBeforeLossPackets = 0;
    this.cwndPackets = this.minPackets;
    this.ssthreshPackets = Math.max(this.minPackets, this.ssthreshPackets * BETA);
  }
}

function isQueueing(rttMs: number, minRttMs: number): boolean {
  return rttMs > QUEUE_RTT_FACTOR * minRttMs + QUEUE_RTT_SLACK_MS;
}
/**
 * A token bucket of packets refilled at the pacing rate. The bucket holds `burstMs` of the rate, at
 * least `minBurstPackets`, so a coarse (and, on a busy machine, late) timer does not starve the
 * sender between ticks.
 */
export class Pacer {
  private tokens: number;
  private lastMs = 0;

  constructor(
    private readonly minBurstPackets: number,
    private readonly burstMs: number,
  ) {
    this.tokens = minBurstPackets;
  }

  /** Tops the bucket up for the time since the last call. */
  refill(nowMs: number, ratePacketsPerMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    const burst = Math.max(this.minBurstPackets, ratePacketsPerMs * this.burstMs);
    this.tokens = Math.min(burst, this.tokens + elapsedMs * ratePacketsPerMs);
  }

  canSend(): boolean {
    return this.tokens >= 1;
  }

  onSent(): void {
    this.tokens -= 1;
  }
}
