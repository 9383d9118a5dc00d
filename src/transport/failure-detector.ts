/**
 * Liveness of one peer: when to send a heartbeat and when to declare the peer dead.
 *
 * Why heartbeats only when idle: a session carrying traffic already proves liveness through its
 * acks, so a heartbeat then is pure overhead. A session that sent nothing for `startMs` sends one;
 * a session that heard nothing for `intervalMs` probes four times per interval (so a lossy path does
 * not look dead); a peer silent for `timeoutMs` is dead. Pure logic on `nowMs`, tested under a
 * ManualClock.
 *
 * Silence is counted only while this process runs: the endpoint checks its sessions at least every
 * IDLE_TICK_MS (50 ms), so a check that comes more than STALL_CREDIT_MS after the one before means
 * this process did not run meanwhile (starved of CPU, stopped, or its event loop blocked), and the
 * datagrams the peer sent then are still waiting in the socket. That gap is credited to the peer
 * instead of declaring it dead before they are read.
 */
/** A gap between two checks longer than this is a stall of this process, not the peer's silence. */
export const STALL_CREDIT_MS = 1000;

export class FailureDetector {
  private lastHeardMs: number;
  private lastSentMs: number;
  private lastHeartbeatMs = -Infinity;
  private lastCheckMs = Number.NaN;

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

  /** Is the peer dead at `nowMs`? Called on every periodic check of a connected session. */
  isDead(nowMs: number): boolean {
    const gap = nowMs - this.lastCheckMs;
    if (gap > STALL_CREDIT_MS) this.lastHeardMs += gap; // we did not run: not the peer's silence
    this.lastCheckMs = nowMs;
    return nowMs - this.lastHeardMs >= this.timeoutMs;
  }

  silentForMs(nowMs: number): number {
    return nowMs - this.lastHeardMs;
  }
}
