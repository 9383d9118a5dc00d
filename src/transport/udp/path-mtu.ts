/**
 * Path-MTU search for one session (in the spirit of DPLPMTUD, RFC 8899): which packet size the path
 * carries, found by probing, and dropped at once when the path shrinks.
 *
 * Why probing and not ICMP: a UDP socket in Node never sees "packet too big", and loopback or jumbo
 * frames carry far more than the 1452 bytes a fixed setting assumes. Bigger packets mean fewer
 * datagrams per byte, which is what limits a Node sender. So the session asks the path: it sends
 * padded probe packets that carry no data, and a probe the peer acknowledges proves its size works.
 *
 * The search runs between `baseBytes` (always assumed to work) and `maxBytes` (both sides' configured
 * packetBytes): the largest size proven (`lo`, the working size) and the largest still possible
 * (`hi`). The first probe tries `hi` itself (loopback is done in one round trip), then the gap is
 * halved until it is under `granularityBytes`. A probe lost `maxProbes` times lowers `hi` below it.
 * A finished search starts again after `reprobeIntervalMs` (with `hi` back at the maximum), so a
 * path that grew is found again.
 *
 * Black holes (RFC 8899's confirmation): `blackHoleLosses` packets bigger than the base lost in a row
 * with no ack of a packet at least as big in between only raise a suspicion. The run of losses is
 * not proof: at the end of a message no big packet is left to be acked, so random loss of the last
 * packets and of their resends makes such a run on a path that never changed. So the prober first
 * probes the CURRENT size: one such probe acked (or any big packet acked) ends the suspicion. Only a
 * current-size probe lost `maxProbes` times in a row leads to a probe at the base size, and only
 * once that one is acknowledged (the peer is there, big packets still vanish) does the working size
 * drop to the base and the search start again.
 *
 * The class holds no timers and sends nothing: the session calls `poll(nowMs)` on its tick, sends a
 * probe of the size returned, and reports what happened. Tested alone under a ManualClock.
 */

/** Settings of one search (checked by the transport config). */
export interface PathMtuSettings {
  /** Smallest size, assumed to work on every path. */
  readonly baseBytes: number;
  /** Largest size both ends allow. */
  readonly maxBytes: number;
  /** Size used before anything is proven (clamped to [baseBytes, maxBytes]). */
  readonly startBytes: number;
  /** The search stops when the largest possible size is within this of the largest proven one. */
  readonly granularityBytes: number;
  /** A probe size is given up after this many losses. */
  readonly maxProbes: number;
  /** A finished search starts again after this long (0: never). */
  readonly reprobeIntervalMs: number;
  /** Big packets lost in a row (no big ack in between) before the path is suspected to have shrunk. */
  readonly blackHoleLosses: number;
  /** False: no probing; the working size is maxBytes. */
  readonly enabled: boolean;
}

/** Counters for the session's stats. */
export interface PathMtuCounters {
  probesSent: number;
  probesAcked: number;
  probesLost: number;
  /** Times the working size dropped to the base (a shrunk path). */
  blackHoles: number;
}

/** No black hole suspected. */
const CONFIRM_NONE = 0;
/** Suspected: probing the current size (an ack ends the suspicion). */
const CONFIRM_CURRENT = 1;
/** The current size failed maxProbes times: a base-size probe acked confirms the black hole. */
const CONFIRM_BASE = 2;

export class PathMtuProber {
  /** The packet size the session sends now. */
  currentBytes: number;
  readonly counters: PathMtuCounters = { probesSent: 0, probesAcked: 0, probesLost: 0, blackHoles: 0 };
  /** Largest size still possible. */
  private hi: number;
  private searching: boolean;
  /** Size of the probe in flight (0: none), when it was sent, and how often this size was lost. */
  private probeBytes = 0;
  private probeSentMs = 0;
  private lossesAtSize = 0;
  private nextSearchMs = Infinity;
  /** Big packets lost in a row, and the smallest of them (an ack at least that big ends the run). */
  private lossStreak = 0;
  private streakMinBytes = Infinity;
  /** Where a black-hole confirmation stands (CONFIRM_*), and how often the current size failed in it. */
  private confirming = CONFIRM_NONE;
  private confirmLosses = 0;
  /** What the probe in flight is for (CONFIRM_NONE: the search). */
  private probeKind = CONFIRM_NONE;

  constructor(
    private readonly s: PathMtuSettings,
    nowMs: number,
  ) {
    const start = Math.min(s.maxBytes, Math.max(s.baseBytes, s.startBytes));
    this.currentBytes = s.enabled ? start : s.maxBytes;
    this.hi = s.maxBytes;
    this.searching = s.enabled && this.currentBytes < this.hi;
    if (!this.searching) this.scheduleNextSearch(nowMs);
  }

  /** True while a probe waits for its ack. */
  get probeInFlight(): boolean {
    return this.probeBytes !== 0;
  }

  /** True while sizes above the working one are being tried. */
  get isSearching(): boolean {
    return this.searching;
  }

  /** Size of the probe the session should send now, or 0. Declares an unanswered probe lost after `timeoutMs`. */
  poll(nowMs: number, timeoutMs: number): number {
    if (!this.s.enabled) return 0;
    if (this.probeBytes !== 0) {
      if (nowMs - this.probeSentMs < timeoutMs) return 0;
      this.onProbeLost(nowMs);
    }
    if (this.confirming === CONFIRM_CURRENT) return this.currentBytes;
    if (this.confirming === CONFIRM_BASE) return this.s.baseBytes;
    if (!this.searching && nowMs >= this.nextSearchMs) this.restartSearch();
    if (!this.searching) return 0;
    return this.nextProbeBytes();
  }

  /** The session sent a probe of `sizeBytes` (the size `poll` returned). */
  onProbeSent(sizeBytes: number, nowMs: number): void {
    this.probeBytes = sizeBytes;
    this.probeSentMs = nowMs;
    this.probeKind = this.confirming;
    this.counters.probesSent++;
  }

  /** The probe in flight was acknowledged. */
  onProbeAcked(nowMs: number): void {
    const size = this.probeBytes;
    if (size === 0) return;
    this.probeBytes = 0;
    this.counters.probesAcked++;
    const kind = this.probeKind;
    if (kind === CONFIRM_CURRENT) {
      if (this.confirming === CONFIRM_CURRENT) this.endSuspicion(); // the current size works: random loss
      return;
    }
    if (kind === CONFIRM_BASE) {
      // the current size failed maxProbes times and no big packet got through: the path shrank
      if (this.confirming === CONFIRM_BASE) this.dropToBase(nowMs);
      return;
    }
    this.lossesAtSize = 0;
    if (size > this.currentBytes) this.currentBytes = size;
    this.finishIfNarrow(nowMs);
  }

  /** An ack-eliciting packet of `sizeBytes` was acknowledged. */
  onPacketAcked(sizeBytes: number): void {
    if (sizeBytes < this.streakMinBytes) return;
    this.endSuspicion();
  }

  /** An ack-eliciting packet of `sizeBytes` was declared lost. */
  onPacketLost(sizeBytes: number): void {
    if (!this.s.enabled || sizeBytes <= this.s.baseBytes) return;
    this.lossStreak++;
    if (sizeBytes < this.streakMinBytes) this.streakMinBytes = sizeBytes;
    if (this.lossStreak >= this.s.blackHoleLosses && this.confirming === CONFIRM_NONE) {
      this.confirming = CONFIRM_CURRENT;
      this.confirmLosses = 0;
      // a search probe in flight no longer matters; a current-size probe still out answers this run too
      const reuse = this.probeKind === CONFIRM_CURRENT && this.probeBytes === this.currentBytes;
      if (!reuse) this.probeBytes = 0;
    }
  }

  /** A big packet or a current-size probe got through: no black hole. */
  private endSuspicion(): void {
    this.lossStreak = 0;
    this.streakMinBytes = Infinity;
    this.confirming = CONFIRM_NONE;
    this.confirmLosses = 0;
  }

  private onProbeLost(nowMs: number): void {
    this.counters.probesLost++;
    const size = this.probeBytes;
    this.probeBytes = 0;
    if (this.probeKind === CONFIRM_CURRENT) {
      if (this.confirming !== CONFIRM_CURRENT) return;
      if (++this.confirmLosses >= this.s.maxProbes) this.confirming = CONFIRM_BASE;
      return;
    }
    // a lost base probe is asked again by the next poll; the failure detector judges a dead peer
    if (this.probeKind === CONFIRM_BASE || this.confirming !== CONFIRM_NONE) return;
    if (++this.lossesAtSize < this.s.maxProbes) return;
    this.lossesAtSize = 0;
    this.hi = Math.max(this.currentBytes, size - 1);
    this.finishIfNarrow(nowMs);
  }

  /** Optimistic first probe at the ceiling, then halving. */
  private nextProbeBytes(): number {
    if (this.lossesAtSize > 0) return this.lastTriedBytes; // the same size again, up to maxProbes times
    const size = this.firstProbe ? this.hi : Math.floor((this.currentBytes + this.hi + 1) / 2);
    this.firstProbe = false;
    this.lastTriedBytes = size;
    return size;
  }

  private firstProbe = true;
  private lastTriedBytes = 0;

  private finishIfNarrow(nowMs: number): void {
    if (this.hi - this.currentBytes >= this.s.granularityBytes && this.currentBytes < this.hi) return;
    this.searching = false;
    this.scheduleNextSearch(nowMs);
  }

  private scheduleNextSearch(nowMs: number): void {
    const interval = this.s.reprobeIntervalMs;
    this.nextSearchMs = this.s.enabled && interval > 0 ? nowMs + interval : Infinity;
  }

  private restartSearch(): void {
    this.hi = this.s.maxBytes;
    this.lossesAtSize = 0;
    this.firstProbe = true;
    this.searching = this.currentBytes < this.hi;
    this.nextSearchMs = Infinity;
  }

  private dropToBase(nowMs: number): void {
    this.counters.blackHoles++;
    this.currentBytes = this.s.baseBytes;
    this.endSuspicion();
    this.restartSearch();
    if (!this.searching) this.scheduleNextSearch(nowMs);
  }
}
