/**
 * Liveness of one peer: when to send a heartbeat and when to declare the peer dead.
 *
 * Why heartbeats only when idle: a session carrying traffic already proves liveness through its
 * acks, so a heartbeat then is pure overhead. A session that sent nothing for `startMs` sends one;
 * a session that heard nothing for `intervalMs` probes four times per interval (so a lossy path does
 * not look dead); a peer silent for `timeoutMs` is dead. Pure logic on `nowMs`, tested under a
 * ManualClock.
 */
export class FailureDetector {
  private lastHeardMs: number;
  private lastSentMs: number;
  private lastHeartbeatMs = -Infinity;

  constructor(
    private readonly startMs: number,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    nowMs: number,
  ) {
    this.lastHeardMs = nowMs;
    this.lastSentMs = nowMs;
  }

  onHeard(nowMs: number): void {
    this.lastHeardMs = nowMs;
  }

  onSent(nowMs: number): void {
    this.lastSentMs = nowMs;
  }

  onHeartbeatSent(nowMs: number): void {
    this.lastHeartbeatMs = nowMs;
    this.lastSentMs = nowMs;
  }

  heartbeatDue(nowMs: number): boolean {
    if (nowMs - this.lastSentMs >= this.startMs) return true;
    return nowMs - this.lastHeardMs >= this.intervalMs && nowMs - this.lastHeartbeatMs >= this.intervalMs / 4;
  }

  isDead(nowMs: number): boolean {
    return nowMs - this.lastHeardMs >= this.timeoutMs;
  }

  silentForMs(nowMs: number): number {
    return nowMs - this.lastHeardMs;
  }
}
