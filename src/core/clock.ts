/**
 * Time, injected. Protocol logic never calls Date.now() or setTimeout itself: it is handed a Clock,
 * so unit tests can run it under a ManualClock and step time deterministically (RTO back-off, ack
 * delay, failure detection) without sleeping.
 */

export interface TimerHandle {
  /** Opaque; pass back to clearTimer. */
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds (fractional allowed). Only differences are meaningful. */
  nowMs(): number;
  /** Calls `fn` once after `delayMs`. Timers do not keep the process alive. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: performance.now() and unref'd Node timers. */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  nowMs(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        fn();
      },
      Math.max(0, delayMs),
    );
    t.unref();
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }
}

/** A shared SystemClock for code that does not care to inject one. */
export const systemClock: Clock = new SystemClock();

interface PendingTimer {
  id: number;
  atMs: number;
  fn: () => void;
}

/** A clock that moves only when told to: `advance(ms)` fires due timers in time order. */
export class ManualClock implements Clock {
  private now: number;
  private nextId = 1;
  private pending: PendingTimer[] = [];

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.pending.push({ id, atMs: this.now + Math.max(0, delayMs), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.pending = this.pending.filter((t) => t.id !== handle.id);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const t of this.pending) if (t.atMs <= target && (!next || t.atMs < next.atMs)) next = t;
      if (!next) break;
      this.pending = this.pending.filter((t) => t !== next);
      this.now = Math.max(this.now, next.atMs);
      next.fn();
    }
    this.now = target;
  }
}
