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
    /** Spacing acks for several senders never waits for more than this many packets (see below). */
    private readonly maxSpacedPackets = ackEveryPackets,
  ) {}

  /**
   * An ack-eliciting packet arrived; `urgent` when it revealed a gap or asked for an answer.
   * `senders` is how many peers send to this endpoint now: each is acked every `ackEveryPackets` x
   * `senders` packets, so the receiver sends about as many acks in all as for one sender (each ack
   * is a syscall that also wakes the sender's process: with eight senders on two cores, 26 % of the
   * receiver's profile was in those sends). A sender at 1/n of the rate then gets acks at the same
   * interval in time as alone. Never more than `maxSpacedPackets` (the initial window), so a flow
   * that is still small (a late starter) is not left waiting for the ack timer; `ackDelayMs` still
   * bounds the wait. And never more than half of `windowPackets`, the receive window this receiver
   * advertises to the sender: a sender whose share of the window (8 senders of 64 KB packets: 16
   * packets) is below the spacing would otherwise fill its window and wait `ackDelayMs` for every ack.
   */
  onAckEliciting(nowMs: number, urgent: boolean, senders = 1, windowPackets = Infinity): void {
    if (this.pendingPackets === 0 && !this.immediate) this.firstPendingAtMs = nowMs;
    this.pendingPackets++;
    const spaced = Math.max(
      this.ackEveryPackets,
      Math.min(this.ackEveryPackets * senders, this.maxSpacedPackets),
    );
    const every = Math.min(spaced, Math.max(1, Math.floor(windowPackets / 2)));
    if (urgent || this.pendingPackets >= every) this.immediate = true;
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
