/**
 * Round-trip time and retransmission timeout, RFC 6298 style.
 *
 * Why its own class: the RTO decides when a silent path is retransmitted, and it is easy to get the
 * back-off wrong; here it is a pure function of samples and time, tested under a ManualClock. Samples
 * are unambiguous because ferry never reuses a packet number (Karn's problem does not arise).
 */
export class RttEstimator {
  srttMs = 0;
  rttVarMs = 0;
  latestRttMs = 0;
  minRttMs = Infinity;
  private hasSample = false;
  private backoff = 1;
  /** RTO expiries since the last ack. */
  consecutiveTimeouts = 0;

  constructor(
    private readonly initialRtoMs: number,
    private readonly minRtoMs: number,
    private readonly maxRtoMs: number,
    /** Added to every RTO: the clock granularity plus the peer's longest ack delay. */
    private readonly slackMs: number,
  ) {}

  /** Folds in one RTT measurement (RFC 6298 2.2 and 2.3) and ends any back-off. */
  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    this.latestRttMs = r;
    if (r < this.minRttMs) this.minRttMs = r;
    if (!this.hasSample) {
      this.srttMs = r;
      this.rttVarMs = r / 2;
      this.hasSample = true;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - r);
      this.srttMs = 0.875 * this.srttMs + 0.125 * r;
    }
    this.backoff = 1;
    this.consecutiveTimeouts = 0;
  }

  /** The RTO expired: double it (RFC 6298 5.5), up to maxRtoMs. */
  backOff(): void {
    this.consecutiveTimeouts++;
    if (this.baseRtoMs() * this.backoff < this.maxRtoMs) this.backoff *= 2;
  }

  /** An ack arrived after a back-off without a fresh sample: start over from the base RTO. */
  resetBackoff(): void {
    this.backoff = 1;
    this.consecutiveTimeouts = 0;
  }

  get rtoMs(): number {
    return Math.min(this.maxRtoMs, this.baseRtoMs() * this.backoff);
  }

  /** Smoothed RTT, or the initial RTO before the first sample (for pacing and loss delays). */
  get smoothedOrInitialMs(): number {
    return this.hasSample ? this.srttMs : this.initialRtoMs;
  }

  private baseRtoMs(): number {
    if (!this.hasSample) return Math.max(this.minRtoMs, this.initialRtoMs);
    const rto = this.srttMs + Math.max(this.slackMs, 4 * this.rttVarMs) + this.slackMs;
    return Math.min(this.maxRtoMs, Math.max(this.minRtoMs, rto));
  }
}
