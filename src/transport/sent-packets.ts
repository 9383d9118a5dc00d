/**
 * The sender's log of packets in flight, and loss detection over it.
 *
 * Why: every ack-eliciting packet is remembered by its (never reused) number until it is acked or
 * declared lost. Loss is declared on evidence first — a packet `PACKET_THRESHOLD` numbers below an
 * acked one, or older than 9/8 RTT when a later one was acked (QUIC's rules) — and by the
 * retransmission timeout only when the acks stop. A ring of typed arrays indexed by packet number:
 * no allocation per packet, and the size bounds the packets in flight.
 */
import { FerryError } from '../core/errors.js';

/** Packets this many numbers below the largest acked one are lost (reordering tolerance). */
export const PACKET_THRESHOLD = 3;
/** A packet sent this many RTTs before a later acked one is lost. */
export const TIME_THRESHOLD = 9 / 8;

const EMPTY = 0;
const IN_FLIGHT = 1;

/** What the log tells its owner (one object per session, so callbacks are not closures per packet). */
export interface SentPacketSink<T> {
  onPacketAcked(ref: T, fragment: number, bytes: number): void;
  onPacketLost(ref: T | null, fragment: number, packetNumber: number): void;
}

export class SentPackets<T> {
  /** Lowest packet number still tracked; all below are resolved. */
  private base = 1;
  /** Next packet number to hand out. */
  private next = 1;
  largestAcked = 0;
  inFlight = 0;
  private readonly mask: number;
  private readonly state: Uint8Array;
  private readonly sentAtMs: Float64Array;
  private readonly bytes: Int32Array;
  private readonly fragment: Int32Array;
  private readonly refs: (T | null)[];

  constructor(
    capacity: number,
    private readonly sink: SentPacketSink<T>,
  ) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.mask = size - 1;
    this.state = new Uint8Array(size);
    this.sentAtMs = new Float64Array(size);
    this.bytes = new Int32Array(size);
    this.fragment = new Int32Array(size);
    this.refs = new Array<T | null>(size).fill(null);
  }

  /** The number the next packet gets (every packet, tracked or not, consumes one). */
  get nextPacketNumber(): number {
    return this.next;
  }

  /** Lowest number the peer still has to wait for ("least unacked" on the wire). */
  get leastUnacked(): number {
    return this.base;
  }

  /** False when the ring cannot take another tracked packet (the oldest one is still unresolved). */
  hasRoom(): boolean {
    return this.next - this.base <= this.mask;
  }

  /** Takes a number for a packet that needs no ack (ACK, handshake): nothing is tracked. */
  takeUntracked(): number {
    const pn = this.next++;
    if (this.base === pn) this.base = this.next;
    return pn;
  }

  /** Takes a number for an ack-eliciting packet and remembers it. Check hasRoom() first. */
  takeTracked(ref: T | null, fragment: number, bytes: number, nowMs: number): number {
    if (!this.hasRoom()) throw new FerryError('INTERNAL', 'SentPackets: ring full');
    const pn = this.next++;
    const slot = pn & this.mask;
    this.state[slot] = IN_FLIGHT;
    this.sentAtMs[slot] = nowMs;
    this.bytes[slot] = bytes;
    this.fragment[slot] = fragment;
    this.refs[slot] = ref;
    this.inFlight++;
    return pn;
  }

  /** Send time of the oldest packet in flight, or Infinity. */
  oldestSentAtMs(): number {
    for (let pn = this.base; pn < this.next; pn++) {
      const slot = pn & this.mask;
      if (this.state[slot] === IN_FLIGHT) return this.sentAtMs[slot]!;
    }
    return Infinity;
  }

  /**
   * Applies an ack (cumulative + ranges). Returns the RTT sample in ms if the largest acked packet
   * moved forward and was in flight, else -1. Calls sink.onPacketAcked for every newly acked packet.
   */
  onAck(
    cumulativeAck: number,
    starts: Float64Array,
    lengths: Uint32Array,
    count: number,
    nowMs: number,
  ): number {
    let largestNew = -1;
    const top = Math.min(cumulativeAck, this.next - 1);
    for (let pn = this.base; pn <= top; pn++) if (this.ackOne(pn)) largestNew = pn;
    for (let i = 0; i < count; i++) {
      const from = Math.max(starts[i]!, this.base);
      const to = Math.min(starts[i]! + lengths[i]!, this.next);
      for (let pn = from; pn < to; pn++) if (this.ackOne(pn)) largestNew = Math.max(largestNew, pn);
    }
    let sample = -1;
    if (largestNew > this.largestAcked) {
      this.largestAcked = largestNew;
      sample = nowMs - this.sentAtMs[largestNew & this.mask]!;
    }
    this.advanceBase();
    return sample;
  }

  private ackOne(pn: number): boolean {
    const slot = pn & this.mask;
    if (this.state[slot] !== IN_FLIGHT) return false;
    this.state[slot] = EMPTY;
    this.inFlight--;
    const ref = this.refs[slot]!;
    this.refs[slot] = null;
    if (ref !== null) this.sink.onPacketAcked(ref, this.fragment[slot]!, this.bytes[slot]!);
    return true;
  }

  /** Declares lost what the acks prove lost; returns how many. */
  detectLosses(nowMs: number, rttMs: number): number {
    const tooOldMs = nowMs - TIME_THRESHOLD * rttMs;
    let lost = 0;
    for (let pn = this.base; pn < this.largestAcked; pn++) {
      const slot = pn & this.mask;
      if (this.state[slot] !== IN_FLIGHT) continue;
      if (this.largestAcked - pn >= PACKET_THRESHOLD || this.sentAtMs[slot]! <= tooOldMs) {
        this.loseOne(pn);
        lost++;
      }
    }
    this.advanceBase();
    return lost;
  }

  /** The RTO fired: every packet sent at or before `sentBeforeMs` is lost. Returns how many. */
  onTimeout(sentBeforeMs: number): number {
    let lost = 0;
    for (let pn = this.base; pn < this.next; pn++) {
      const slot = pn & this.mask;
      if (this.state[slot] !== IN_FLIGHT) continue;
      if (this.sentAtMs[slot]! > sentBeforeMs) break; // numbers follow send order
      this.loseOne(pn);
      lost++;
    }
    this.advanceBase();
    return lost;
  }

  /** Forgets everything (session ended). */
  clear(): void {
    for (let pn = this.base; pn < this.next; pn++) {
      const slot = pn & this.mask;
      this.state[slot] = EMPTY;
      this.refs[slot] = null;
    }
    this.inFlight = 0;
    this.base = this.next;
  }

  private loseOne(pn: number): void {
    const slot = pn & this.mask;
    this.state[slot] = EMPTY;
    this.inFlight--;
    const ref = this.refs[slot]!;
    this.refs[slot] = null;
    this.sink.onPacketLost(ref, ref === null ? -1 : this.fragment[slot]!, pn);
  }

  private advanceBase(): void {
    while (this.base < this.next && this.state[this.base & this.mask] !== IN_FLIGHT) this.base++;
  }
}
