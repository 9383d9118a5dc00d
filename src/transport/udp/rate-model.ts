/**
 * A model of the path, BBR style: the bottleneck bandwidth (the largest delivery rate measured over
 * the last few round trips, in packets: per-packet work is what limits a host) and the smallest round-trip time. The sender paces at gain x bandwidth and
 * keeps at most gain x bandwidth-delay product in flight.
 *
 * Why a model instead of a loss-driven window: a window that shrinks on every loss collapses on a
 * lossy link (1 % random loss already costs TCP most of a fast path, BASELINES.md "Loss, on paper").
 * The delivery rate does not care why a packet was lost: random loss lowers it only by the share
 * lost, while a real bottleneck caps it. Queues stay short because the window is a small multiple
 * of what the path holds, and because every probe above the rate (gain 1.25) is followed by a drain
 * (gain 0.75).
 *
 * States: STARTUP (gain 2.89, the rate doubles each round) until the bandwidth stops growing by a
 * quarter for three rounds; DRAIN (gain 1 / 2.89) until the queue built in startup is gone; then
 * PROBE_BW, cycling the gains [1.25, 0.75, 1, 1, 1, 1, 1, 1], one per round. Samples taken while
 * the sender had nothing to send (app-limited) only count when they raise the estimate, and rounds
 * without any other sample do not age the filter, so a quiet request-response session keeps the
 * bandwidth it measured while busy.
 *
 * The window's round-trip time is the smallest RTT of the last few rounds, not the smallest ever.
 * Several flows into one busy receiver (n senders on a shared, loaded host) all see a queue and
 * scheduling delay that no one of them causes or can drain; a flow whose window assumed the
 * quiet-path minimum would be held below its delivery rate (window / RTT < rate), measure less and
 * shrink every round, while the flows that started first keep their share. With the recent RTT,
 * every flow can fill the share of the receive window the receiver grants it (equal shares:
 * endpoint.ts), which is what makes them fair. Pacing (average gain 1) keeps the queue in check;
 * the window stays a cap.
 *
 * Pure arithmetic on numbers handed in (no clock): tested under a simulated path.
 */

/** Startup gain: 2/ln 2, the smallest that still doubles the delivery rate every round. */
export const STARTUP_GAIN = 2.885;
/** Probe-bandwidth pacing gains, one per round. */
export const PROBE_GAINS: readonly number[] = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** Window gain: room for the acks that arrive late and in batches. */
export const CWND_GAIN = 2;
/** Rounds the bandwidth filter remembers. */
export const BW_WINDOW_ROUNDS = 10;
/** Rounds the RTT filter of the window remembers. */
export const RTT_WINDOW_ROUNDS = 10;
/** Startup ends after this many rounds without 25 % growth. */
const FULL_BW_ROUNDS = 3;
const FULL_BW_GROWTH = 1.25;

export type RateModelState = 'startup' | 'drain' | 'probeBw';

export class DeliveryRateModel {
  state: RateModelState = 'startup';
  /** Largest delivery rate in the filter window, packets per ms (0: no sample yet). */
  btlBwPacketsPerMs = 0;
  pacingGain = STARTUP_GAIN;
  cwndGain = STARTUP_GAIN;
  rounds = 0;
  private readonly slots = new Float64Array(BW_WINDOW_ROUNDS);
  private slot = 0;
  private slotHasFullSample = false;
  private fullBwPacketsPerMs = 0;
  private fullBwRounds = 0;
  private cycleIndex = 0;
  /** Smallest RTT of each recent round (Infinity: no sample in that round). */
  private readonly rttSlots = new Float64Array(RTT_WINDOW_ROUNDS).fill(Infinity);
  private rttSlot = 0;
  /** Smallest RTT over the last RTT_WINDOW_ROUNDS rounds. */
  recentMinRttMs = Infinity;

  constructor(
    private readonly minPackets: number,
    private readonly maxPackets: number,
    /** Time acks may lag behind the path (the peer's ack delay plus timer granularity). */
    private readonly ackLagMs: number,
  ) {}

  /** True once a delivery rate was measured. */
  get ready(): boolean {
    return this.btlBwPacketsPerMs > 0;
  }

  /**
   * A delivery-rate sample (packets per ms) over the packets acked now; `appLimited` when they were
   * sent while the sender had nothing more to send; `roundEnded` when they close a round trip;
   * `inFlightPackets` what is still unacked; `minRttMs` the smallest RTT seen.
   */
  onSample(
    ratePacketsPerMs: number,
    appLimited: boolean,
    roundEnded: boolean,
    inFlightPackets: number,
    minRttMs: number,
  ): void {
    if (roundEnded) this.endRound();
    if (ratePacketsPerMs > 0 && (!appLimited || ratePacketsPerMs > this.btlBwPacketsPerMs)) {
      if (!appLimited) this.slotHasFullSample = true;
      if (ratePacketsPerMs > this.slots[this.slot]!) this.slots[this.slot] = ratePacketsPerMs;
      if (ratePacketsPerMs > this.btlBwPacketsPerMs) this.btlBwPacketsPerMs = ratePacketsPerMs;
    }
    if (this.state === 'drain' && inFlightPackets <= this.bdpPackets(minRttMs)) this.enterProbeBw();
  }

  /** An RTT sample (ms) from the ack just processed. */
  onRttSample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (rttMs < this.rttSlots[this.rttSlot]!) this.rttSlots[this.rttSlot] = rttMs;
    if (rttMs < this.recentMinRttMs) this.recentMinRttMs = rttMs;
  }

  private endRttRound(): void {
    if (this.rttSlots[this.rttSlot] === Infinity) return; // a round without samples does not age the filter
    this.rttSlot = (this.rttSlot + 1) % RTT_WINDOW_ROUNDS;
    this.rttSlots[this.rttSlot] = Infinity;
    let min = Infinity;
    for (let i = 0; i < RTT_WINDOW_ROUNDS; i++) if (this.rttSlots[i]! < min) min = this.rttSlots[i]!;
    this.recentMinRttMs = min;
  }

  private endRound(): void {
    this.rounds++;
    this.endRttRound();
    if (this.state === 'startup') this.checkFullBandwidth();
    else if (this.state === 'probeBw') {
      this.cycleIndex = (this.cycleIndex + 1) % PROBE_GAINS.length;
      this.pacingGain = PROBE_GAINS[this.cycleIndex]!;
    }
    if (!this.slotHasFullSample) return; // an app-limited round does not age the filter
    this.slot = (this.slot + 1) % BW_WINDOW_ROUNDS;
    this.slots[this.slot] = 0;
    this.slotHasFullSample = false;
    let max = 0;
    for (let i = 0; i < BW_WINDOW_ROUNDS; i++) if (this.slots[i]! > max) max = this.slots[i]!;
    this.btlBwPacketsPerMs = max;
  }

  private checkFullBandwidth(): void {
    if (!this.slotHasFullSample) return;
    if (this.btlBwPacketsPerMs >= this.fullBwPacketsPerMs * FULL_BW_GROWTH) {
      this.fullBwPacketsPerMs = this.btlBwPacketsPerMs;
      this.fullBwRounds = 0;
      return;
    }
    if (++this.fullBwRounds < FULL_BW_ROUNDS) return;
    this.state = 'drain';
    this.pacingGain = 1 / STARTUP_GAIN;
    this.cwndGain = STARTUP_GAIN;
  }

  private enterProbeBw(): void {
    this.state = 'probeBw';
    this.cycleIndex = 0;
    this.pacingGain = PROBE_GAINS[0]!;
    this.cwndGain = CWND_GAIN;
  }

  /** Bandwidth-delay product, with the ack lag counted as part of the delay. */
  bdpPackets(minRttMs: number): number {
    const rttMs = Number.isFinite(minRttMs) ? minRttMs : 0;
    return this.btlBwPacketsPerMs * (rttMs + this.ackLagMs);
  }

  /** The window the model allows, in packets: gain x bandwidth x the recent round trip (see the header). */
  cwndPackets(minRttMs: number): number {
    const rttMs = Number.isFinite(this.recentMinRttMs) ? Math.max(minRttMs, this.recentMinRttMs) : minRttMs;
    const packets = this.cwndGain * this.bdpPackets(rttMs);
    return Math.min(this.maxPackets, Math.max(this.minPackets, packets));
  }

  /** Pacing rate, packets per ms. */
  pacingRatePacketsPerMs(): number {
    return this.pacingGain * this.btlBwPacketsPerMs;
  }

  /** Persistent congestion (the path stopped answering): halve the estimate and start over. */
  onPersistentCongestion(): void {
    this.btlBwPacketsPerMs /= 2;
    this.slots.fill(0);
    this.slots[this.slot] = this.btlBwPacketsPerMs;
    this.fullBwPacketsPerMs = 0;
    this.fullBwRounds = 0;
    this.state = 'startup';
    this.pacingGain = STARTUP_GAIN;
    this.cwndGain = STARTUP_GAIN;
  }
}
