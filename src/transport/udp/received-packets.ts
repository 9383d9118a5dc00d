/**
 * The packet numbers received from a peer: a cumulative ack plus ranges above it.
 *
 * Why: this is what the acks report. Because packet numbers are never reused, a lost packet's number
 * never arrives; the peer's "least unacked" field (it will not wait for anything below) lets the
 * cumulative ack move past such holes. The number of ranges is bounded (MAX_TRACKED_RANGES): when
 * full, the lowest range is forgotten, which costs at worst a spurious retransmission that the
 * fragment-level duplicate check absorbs. No allocation after construction.
 */
import { LIMITS } from '../../core/limits.js';

export class ReceivedPackets {
  /** Every packet number <= cumulativeAck was received or given up by the sender. */
  cumulativeAck = 0;
  largestReceived = 0;
  /** Ranges [start, end) above cumulativeAck + 1, ascending, disjoint, non-adjacent. */
  private readonly start = new Float64Array(LIMITS.MAX_TRACKED_RANGES);
  private readonly end = new Float64Array(LIMITS.MAX_TRACKED_RANGES);
  private count = 0;

  get rangeCount(): number {
    return this.count;
  }

  /** True if `pn` was seen (or is below the cumulative ack). */
  has(pn: number): boolean {
    if (pn <= this.cumulativeAck) return true;
    for (let i = 0; i < this.count; i++) if (pn >= this.start[i]! && pn < this.end[i]!) return true;
    return false;
  }

  /** Records `pn`; returns false when it was seen before. */
  record(pn: number): boolean {
    if (this.has(pn)) return false;
    if (pn > this.largestReceived) this.largestReceived = pn;
    if (pn === this.cumulativeAck + 1) {
      this.cumulativeAck = pn;
      this.absorbFirstRange();
      return true;
    }
    this.insert(pn);
    return true;
  }

  /** The sender will never retransmit below `leastUnacked`: treat everything below as done. */
  advanceTo(leastUnacked: number): void {
    if (leastUnacked - 1 <= this.cumulativeAck) return;
    this.cumulativeAck = leastUnacked - 1;
    let drop = 0;
    while (drop < this.count && this.end[drop]! <= this.cumulativeAck + 1) drop++;
    this.removeFirst(drop);
    this.absorbFirstRange();
  }

  /** Copies up to `max` ranges, highest first, as [start, length] into the arrays; returns how many. */
  highestRanges(starts: Float64Array, lengths: Uint32Array, max: number): number {
    const n = Math.min(max, this.count);
    // ascending order on the wire: take the top n ranges, lowest of them first
    for (let i = 0; i < n; i++) {
      const r = this.count - n + i;
      starts[i] = this.start[r]!;
      lengths[i] = this.end[r]! - this.start[r]!;
    }
    return n;
  }

  private absorbFirstRange(): void {
    while (this.count > 0 && this.start[0]! <= this.cumulativeAck + 1) {
      if (this.end[0]! - 1 > this.cumulativeAck) this.cumulativeAck = this.end[0]! - 1;
      this.removeFirst(1);
    }
  }

  private insert(pn: number): void {
    let i = 0;
    while (i < this.count && this.end[i]! < pn) i++;
    if (i < this.count && this.end[i] === pn) {
      this.end[i] = pn + 1;
      if (i + 1 < this.count && this.start[i + 1] === pn + 1) {
        this.end[i] = this.end[i + 1]!;
        this.removeAt(i + 1);
      }
      return;
    }
    if (i < this.count && this.start[i] === pn + 1) {
      this.start[i] = pn;
      return;
    }
    if (this.count === this.start.length) {
      if (i === 0) return; // below every remembered range and no room: forget it
      this.removeFirst(1);
      i--;
    }
    for (let j = this.count; j > i; j--) {
      this.start[j] = this.start[j - 1]!;
      this.end[j] = this.end[j - 1]!;
    }
    this.start[i] = pn;
    this.end[i] = pn + 1;
    this.count++;
  }

  private removeAt(i: number): void {
    for (let j = i; j < this.count - 1; j++) {
      this.start[j] = this.start[j + 1]!;
      this.end[j] = this.end[j + 1]!;
    }
    this.count--;
  }

  private removeFirst(n: number): void {
    if (n <= 0) return;
    this.start.copyWithin(0, n, this.count);
    this.end.copyWithin(0, n, this.count);
    this.count -= n;
  }
}
