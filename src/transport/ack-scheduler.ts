/**
 * When to send an acknowledgement.
 *
 * Why: acking every packet doubles the packet rate (the real limit of a Node process), acking too
 * rarely slows loss repair and window growth. Acks are delayed and batched within two bounds — at
 * most `ackEveryPackets` ack-eliciting packets and at most `ackDelayMs` — except that a gap
 * (out-of-order arrival) or an explicit request is acked at once, so the sender repairs on evidence.
 */
export class AckScheduler {
  private pendingPackets = 0;
  private firstPendingAtMs = 0;
  private immediate = false;

  constructor(
    private readonly ackDelayMs: number,
    private readonly ackEveryPackets: number,
  ) {}

  /** An ack-eliciting packet arrived; `urgent` when it revealed a gap or asked for an answer. */
  onAckEliciting(nowMs: number, urgent: boolean): void {
    if (this.pendingPackets === 0 && !this.immediate) this.firstPendingAtMs = nowMs;
    this.pendingPackets++;
    if (urgent || this.pendingPackets >= this.ackEveryPackets) this.immediate = true;
  }

  /** Something else needs reporting (a delivery, a reopened window) within the delay bound. */
  onReportable(nowMs: number): void {
    if (this.pendingPackets === 0 && !this.immediate) this.firstPendingAtMs = nowMs;
    this.pendingPackets = Math.max(1, this.pendingPackets);
  }

  get pending(): boolean {
    return this.immediate || this.pendingPackets > 0;
  }

  /** When the pending ack must go out (Infinity if none is pending). */
  dueAtMs(): number {
    if (this.immediate) return -Infinity;
    if (this.pendingPackets === 0) return Infinity;
    return this.firstPendingAtMs + this.ackDelayMs;
  }

  isDue(nowMs: number): boolean {
    return this.dueAtMs() <= nowMs;
  }

  /** An ack (standalone or piggybacked with complete information) was sent. */
  onAckSent(): void {
    this.pendingPackets = 0;
    this.immediate = false;
  }
}
