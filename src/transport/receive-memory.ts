/**
 * The endpoint's receive memory: one budget, `maxReceiveMemoryBytes`, that every session's reassembly
 * buffers and complete-but-undelivered messages are charged against, on top of each session's own
 * `maxReassemblyBytes`.
 *
 * Why a second, endpoint-wide budget: a per-session budget times `maxPeers` is no bound a host can
 * afford (256 MiB x 1024 peers), and the per-session rule has one deliberate hole (the next FIFO
 * message may always start, so a full budget never blocks the FIFO head). Here there is no hole: a
 * charge that does not fit is refused, and the fragment comes again later (it stays unacked).
 * Allocation goes through `allocate`, which turns an allocation failure (the process's address space
 * or the allocator said no) into a counted refusal instead of an exception that ends the process.
 *
 * Pure bookkeeping on numbers (no clock, no I/O): tested alone.
 */
import { PayloadPool } from './payload-pool.js';
import type { ReceiveMemoryStats } from './types.js';

export class ReceiveMemory {
  /** Bytes charged now, over every session of the endpoint. */
  usedBytes = 0;
  /** Highest `usedBytes` seen (for leak checks and benchmarks). */
  peakBytes = 0;
  /** Charges refused because they would pass the cap. */
  refusals = 0;
  /** Buffers the allocator failed to give (each a message refused, the session kept). */
  allocationFailures = 0;

  /** Reassembly buffers for reuse, while the endpoint's handler lends payloads back; else null. */
  private pool: PayloadPool | null = null;

  constructor(readonly capBytes: number) {}

  /**
   * Turns reuse of message buffers on (the handler keeps no reference to a payload once it
   * settled) or off (every message gets its own buffer; free ones are dropped).
   */
  reusePayloads(on: boolean): void {
    if (on) this.pool ??= new PayloadPool();
    else {
      this.pool?.clear();
      this.pool = null;
    }
  }

  /** Takes back a message's buffer after its handler settled (no-op without reuse). */
  recycle(buf: Buffer): void {
    this.pool?.give(buf);
  }

  /** Bytes still free under the cap. */
  get freeBytes(): number {
    return Math.max(0, this.capBytes - this.usedBytes);
  }

  /** Charges `bytes` when they fit under the cap; false (counted) when they do not. */
  tryCharge(bytes: number): boolean {
    if (this.usedBytes + bytes > this.capBytes) {
      this.refusals++;
      return false;
    }
    this.usedBytes += bytes;
    if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
    return true;
  }

  /**
   * Charges `bytes` that are already held, cap or not (TCP read them before it could refuse); a
   * holder over the cap stops taking more (`full`).
   */
  charge(bytes: number): void {
    this.usedBytes += bytes;
    if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
  }

  /** True when nothing more fits: a TCP session stops reading its socket until memory is given back. */
  get full(): boolean {
    return this.usedBytes >= this.capBytes;
  }

  /** Gives back a charge. */
  release(bytes: number): void {
    this.usedBytes -= bytes;
  }

  /**
   * A buffer of `bytes` (already charged), or null when the allocator fails (counted). Never throws:
   * `RangeError: Array buffer allocation failed` must drop a message, not end the server.
   */
  allocate(bytes: number): Buffer | null {
    try {
      return this.alloc(bytes);
    } catch {
      this.allocationFailures++;
      return null;
    }
  }

  /** The allocator (a test replaces it with one that fails). */
  protected alloc(bytes: number): Buffer {
    return this.pool ? this.pool.take(bytes) : Buffer.allocUnsafe(bytes);
  }

  /** Free pooled bytes and reuses so far (0 without reuse). */
  get poolCounters(): { freeBytes: number; reuses: number } {
    return { freeBytes: this.pool?.freeBytes ?? 0, reuses: this.pool?.reuses ?? 0 };
  }
}

/** The counters `stats().receiveMemory` shows. */
export function receiveMemoryStats(m: ReceiveMemory): ReceiveMemoryStats {
  return {
    usedBytes: m.usedBytes,
    capBytes: m.capBytes,
    peakBytes: m.peakBytes,
    refusals: m.refusals,
    allocationFailures: m.allocationFailures,
    poolFreeBytes: m.poolCounters.freeBytes,
    poolReuses: m.poolCounters.reuses,
  };
}

/** A budget with no cap (an inbox used alone: unit tests, tools). */
export function unlimitedReceiveMemory(): ReceiveMemory {
  return new ReceiveMemory(Number.POSITIVE_INFINITY);
}
