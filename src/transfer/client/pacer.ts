/**
 * Paces a copy's payload to a rate (`--rate`, CopyOptions.rateBytesPerSec), at block granularity.
 *
 * Why its own file: uploads, append sequences and downloads all pace the same way; the transport has
 * its own packet pacer (src/transport/congestion.ts), which this one does not replace: this one
 * bounds what a copy offers, that one how fast packets leave.
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';

/** Paces payload bytes to a rate (block granularity). */
export class Pacer {
  private readonly startMs: number;
  private sentBytes = 0;

  constructor(
    private readonly rateBytesPerSec: number | undefined,
    private readonly clock: Clock = systemClock,
  ) {
    this.startMs = clock.nowMs();
  }

  async take(bytes: number): Promise<void> {
    if (!this.rateBytesPerSec) return;
    this.sentBytes += bytes;
    const dueMs = this.startMs + (this.sentBytes / this.rateBytesPerSec) * 1000;
    const waitMs = dueMs - this.clock.nowMs();
    if (waitMs > 1) await new Promise<void>((r) => this.clock.setTimer(waitMs, r));
  }
}
