/**
 * The sender's log of packets in flight, and loss detection over it.
 *
 * Why: every ack-eliciting packet is remembered by its (never reused) number until it is acked or
 * declared lost. Loss is declared on evidence first — a packet `PACKET_THRESHOLD` numbers below an
 * acked one, or older than 9/8 RTT when a later one was acked (QUIC's rules) — and by the
 * retransmission timeout only when the acks stop. A ring of typed arrays indexed by packet number:
 * no allocation per packet, and the size bounds the packets in flight.
 *
 * The log also measures the delivery rate (for the rate model, rate-model.ts), in packets: every
 * packet remembers how many packets had been delivered when it was sent and when, so its ack gives
 * the packets delivered over the interval it spent in flight (packets, not bytes: per-packet work is
 * what limits a host, and small messages fill packets only partly); and round trips are counted (a round ends when a packet sent
 * after the previous round's end is acked).
 *
 * A packet may carry several records (small messages coalesced, see packet-layout.ts). Their refs
 * live in a second ring, filled in packet-number order: a packet's records are a run starting at its
 * slot's `recordStart`, so no packet allocates, and the run of the oldest unresolved packet bounds
 * the records in use. The sink hears of every record of an acked or lost packet, one call each
 * (consecutive calls for one packet share its number).
 *
 * Untracked packets (ACK, HEARTBEAT, PROBE) take numbers without ring room, so numbers run past the
 * oldest packet in flight by more than the ring's size, and the peer acks them: a number says which
 * slot to look at, never that the slot is its own. Every slot access checks the slot's owner
 * (`owns`), and walks stop at `trackedEnd` (no tracked packet is numbered beyond it).
 */
import { FerryError } from '../../core/errors.js';

/** Packets this many numbers below the largest acked one are lost (initial reordering tolerance). */
export const PACKET_THRESHOLD = 3;
/** A packet sent this many RTTs before a later acked one is lost (initial value). */
export const TIME_THRESHOLD = 9 / 8;
/** Ceilings of the thresholds once reordering was seen (RACK-style adaptation). */
const MAX_PACKET_THRESHOLD = 1024;
const MAX_TIME_THRESHOLD = 2.5;

const EMPTY = 0;
const IN_FLIGHT = 1;
/** Declared lost, kept so a late ack reveals the loss as spurious (reordering). */
const LOST = 2;

/** What the log tells its owner (one object per session, so callbacks are not closures per packet). */
export interface SentPacketSink<T> {
  /** A record (`ref`, `fragment`) of an acked packet of `bytes` payload bytes. */
  onPacketAcked(ref: T, fragment: number, bytes: number): void;
  /**
   * A record of lost packet `packetNumber` (of `bytes`), or (null, -1) once for a packet without
   * records.
   */
  onPacketLost(ref: T | null, fragment: number, packetNumber: number, bytes: number): void;
  /** A packet declared lost was acked after all: the path reorders; undo what the loss did. */
  onSpuriousLoss(): void;
}

export class SentPackets<T> {
  /** Lowest packet number still tracked; all below are resolved. */
  private base = 1;
  /** Next packet number to hand out. */
  private next = 1;
  largestAcked = 0;
  inFlight = 0;
  /** Current loss thresholds; they grow when a declared loss turns out to be reordering. */
  packetThreshold = PACKET_THRESHOLD;
  timeThreshold = TIME_THRESHOLD;
  spuriousLosses = 0;
  /** FIFO of recently lost packet numbers (and when), for `leastUnacked`. */
  private readonly lostPn: Float64Array;
  private readonly lostAtMs: Float64Array;
  private lostHead = 0;
  private lostTail = 0;
  private readonly mask: number;
  private readonly state: Uint8Array;
  private readonly sentAtMs: Float64Array;
  private readonly bytes: Int32Array;
  /** Packet number owning each slot (a LOST slot is valid until a newer number reuses it). */
  private readonly slotPn: Float64Array;
  /** Largest acked number when each packet was declared lost (the reordering distance). */
  private readonly lostAtLargest: Float64Array;
  /** First record (a running index into the record ring) and record count of each packet. */
  private readonly recordStart: Float64Array;
  private readonly recordCount: Uint32Array;
  /** The record ring: what each record of a packet carried (message ref, fragment index). */
  private readonly recordRefs: (T | null)[];
  private readonly recordFragment: Int32Array;
  private readonly recordMask: number;
  /** Records handed out so far (the next record's running index). */
  private nextRecord = 0;
  /** Packets newly acked by the last `onAck`. */
  ackedPackets = 0;
  /** Delivery-rate state per packet: packets delivered and its time when the packet was sent. */
  private readonly deliveredAtSend: Float64Array;
  private readonly deliveredTimeAtSend: Float64Array;
  private readonly appLimitedAtSend: Uint8Array;
  /** Packets acked so far, and when the last of them was. */
  deliveredPackets = 0;
  private deliveredAtMs = 0;
  /** Packets sent before this many are delivered were sent with nothing else to send. */
  private appLimitedUntilPackets = 0;
  private nextRoundDeliveredPackets = 0;
  private ackNowMs = 0;
  private sampleDelivered = -1;
  private sampleTimeMs = 0;
  private sampleSentMs = 0;
  private sampleAppLimited = false;
  /** The last ack's delivery-rate sample (packets per ms; 0 when none) and its flags. */
  ratePacketsPerMs = 0;
  rateAppLimited = false;
  roundEnded = false;

  /**
   * `capacity` packets in flight; `recordCapacity` records over them (default 4 per packet: beyond
   * that, `recordRoom` makes the sender wait for acks rather than grow anything).
   */
  constructor(
    capacity: number,
    private readonly sink: SentPacketSink<T>,
    recordCapacity = 4 * capacity,
  ) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.mask = size - 1;
    let records = 1;
    while (records < Math.max(recordCapacity, size)) records *= 2;
    this.recordMask = records - 1;
    this.recordStart = new Float64Array(size);
    this.recordCount = new Uint32Array(size);
    this.recordRefs = new Array<T | null>(records).fill(null);
    this.recordFragment = new Int32Array(records);
    this.state = new Uint8Array(size);
    this.sentAtMs = new Float64Array(size);
    this.bytes = new Int32Array(size);
    this.slotPn = new Float64Array(size);
    this.lostAtLargest = new Float64Array(size);
    this.lostPn = new Float64Array(size);
    this.lostAtMs = new Float64Array(size);
    this.deliveredAtSend = new Float64Array(size);
    this.deliveredTimeAtSend = new Float64Array(size);
    this.appLimitedAtSend = new Uint8Array(size);
  }

  /** The sender has nothing more to send: samples of packets now in flight do not show the path's limit. */
  markAppLimited(): void {
    this.appLimitedUntilPackets = Math.max(this.deliveredPackets + this.inFlight, 1);
  }

  /** The number the next packet gets (every packet, tracked or not, consumes one). */
  get nextPacketNumber(): number {
    return this.next;
  }

  /**
   * Lowest number the peer still has to wait for ("least unacked" on the wire): packets in flight,
   * and packets declared lost recently — the peer keeps reporting those if they arrive late, which
   * is how a reordering path reveals itself.
   */
  get leastUnacked(): number {
    if (this.lostHead < this.lostTail) return Math.min(this.base, this.lostPn[this.lostHead & this.mask]!);
    return this.base;
  }

  /** Stops waiting for packets declared lost more than `keepMs` ago. */
  pruneLost(nowMs: number, keepMs: number): void {
    while (this.lostHead < this.lostTail) {
      const i = this.lostHead & this.mask;
      const pn = this.lostPn[i]!;
      if (this.owns(pn, LOST) && nowMs - this.lostAtMs[i]! < keepMs && this.next - pn <= this.mask) return;
      this.lostHead++;
    }
  }

  /** False when the ring cannot take another tracked packet (the oldest one is still unresolved). */
  hasRoom(): boolean {
    return this.next - this.base <= this.mask && this.recordRoom() > 0;
  }

  /** Records the record ring still takes (those of the oldest unresolved packet onwards are in use). */
  recordRoom(): number {
    const oldest = this.base < this.next ? this.recordStart[this.base & this.mask]! : this.nextRecord;
    return this.recordMask + 1 - (this.nextRecord - oldest);
  }

  /**
   * Takes a number for a packet that needs no ack (ACK, handshake): nothing is tracked, and no room
   * is needed (the number may lie beyond the ring's reach of the oldest packet in flight).
   */
  takeUntracked(): number {
    const pn = this.next++;
    if (this.base === pn) this.base = this.next;
    return pn;
  }

  /**
   * Takes a number for an ack-eliciting packet and remembers it, with its first record when `ref` is
   * not null (more with `addRecord`). Check hasRoom() first.
   */
  takeTracked(ref: T | null, fragment: number, bytes: number, nowMs: number): number {
    if (!this.hasRoom()) throw new FerryError('INTERNAL', 'SentPackets: ring full');
    const pn = this.next++;
    const slot = pn & this.mask;
    if (this.inFlight === 0) this.deliveredAtMs = nowMs; // idle time is not path time
    this.deliveredAtSend[slot] = this.deliveredPackets;
    this.deliveredTimeAtSend[slot] = this.deliveredAtMs;
    this.appLimitedAtSend[slot] = this.deliveredPackets < this.appLimitedUntilPackets ? 1 : 0;
    this.state[slot] = IN_FLIGHT;
    this.sentAtMs[slot] = nowMs;
    this.bytes[slot] = bytes;
    this.recordStart[slot] = this.nextRecord;
    this.recordCount[slot] = 0;
    this.slotPn[slot] = pn;
    this.inFlight++;
    if (ref !== null) this.addRecord(ref, fragment);
    return pn;
  }

  /** Sets the size the sink is told for the packet taken last (its bytes on the wire, once known). */
  setLastPacketBytes(bytes: number): void {
    this.bytes[(this.next - 1) & this.mask] = bytes;
  }

  /** Adds a record to the packet taken last (check `recordRoom()` first); `bytes` grows its payload. */
  addRecord(ref: T, fragment: number, bytes = 0): void {
    if (this.recordRoom() <= 0) throw new FerryError('INTERNAL', 'SentPackets: record ring full');
    const i = this.nextRecord++ & this.recordMask;
    this.recordRefs[i] = ref;
    this.recordFragment[i] = fragment;
    const slot = (this.next - 1) & this.mask;
    this.recordCount[slot]!++;
    this.bytes[slot]! += bytes;
  }

  /** Send time of the oldest packet in flight, or Infinity. */
  oldestSentAtMs(): number {
    const end = this.trackedEnd();
    for (let pn = this.base; pn < end; pn++) {
      if (this.owns(pn, IN_FLIGHT)) return this.sentAtMs[pn & this.mask]!;
    }
    return Infinity;
  }

  /** True when packet `pn` owns its slot and the slot is in `state` (an untracked number owns none). */
  private owns(pn: number, state: number): boolean {
    const slot = pn & this.mask;
    return this.state[slot] === state && this.slotPn[slot] === pn;
  }

  /**
   * One past the highest number a tracked packet may have: `takeTracked` needs `next - base <= mask`,
   * so none is a ring's size past `base` (only untracked numbers run further).
   */
  private trackedEnd(): number {
    return Math.min(this.next, this.base + this.mask + 1);
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
    this.ackedPackets = 0;
    this.ackNowMs = nowMs;
    this.sampleDelivered = -1;
    const end = this.trackedEnd();
    const top = Math.min(cumulativeAck, end - 1);
    for (let pn = this.base; pn <= top; pn++) if (this.ackOne(pn)) largestNew = pn;
    const oldest = Math.max(1, end - this.mask - 1); // a ring's size of numbers: the walk stays bounded
    for (let i = 0; i < count; i++) {
      const from = Math.max(starts[i]!, oldest);
      const to = Math.min(starts[i]! + lengths[i]!, end);
      for (let pn = from; pn < to; pn++) if (this.ackOne(pn)) largestNew = Math.max(largestNew, pn);
    }
    let sample = -1;
    if (largestNew > this.largestAcked) {
      this.largestAcked = largestNew;
      sample = nowMs - this.sentAtMs[largestNew & this.mask]!;
    }
    this.advanceBase();
    this.takeRateSample(nowMs);
    return sample;
  }

  /** Delivery rate over the newest acked packet's time in flight (at least its RTT: no ack-burst spikes). */
  private takeRateSample(nowMs: number): void {
    this.ratePacketsPerMs = 0;
    this.roundEnded = false;
    if (this.sampleDelivered < 0) return;
    const intervalMs = Math.max(nowMs - this.sampleTimeMs, nowMs - this.sampleSentMs);
    if (intervalMs > 0) this.ratePacketsPerMs = (this.deliveredPackets - this.sampleDelivered) / intervalMs;
    this.rateAppLimited = this.sampleAppLimited;
    if (this.sampleDelivered >= this.nextRoundDeliveredPackets) {
      this.roundEnded = true;
      this.nextRoundDeliveredPackets = this.deliveredPackets;
    }
    if (this.deliveredPackets >= this.appLimitedUntilPackets) this.appLimitedUntilPackets = 0;
  }

  private ackOne(pn: number): boolean {
    const slot = pn & this.mask;
    if (this.owns(pn, LOST)) {
      this.onLateAck(slot, pn);
      return false;
    }
    if (!this.owns(pn, IN_FLIGHT)) return false; // resolved, or untracked (its slot is another's)
    this.state[slot] = EMPTY;
    this.inFlight--;
    const bytes = this.bytes[slot]!;
    this.deliveredPackets++;
    this.deliveredAtMs = this.ackNowMs;
    if (this.deliveredAtSend[slot]! >= this.sampleDelivered) {
      this.sampleDelivered = this.deliveredAtSend[slot]!;
      this.sampleTimeMs = this.deliveredTimeAtSend[slot]!;
      this.sampleSentMs = this.sentAtMs[slot]!;
      this.sampleAppLimited = this.appLimitedAtSend[slot] === 1;
    }
    this.ackedPackets++;
    const start = this.recordStart[slot]!;
    const end = start + this.recordCount[slot]!;
    for (let r = start; r < end; r++) {
      const i = r & this.recordMask;
      const ref = this.recordRefs[i]!;
      this.recordRefs[i] = null;
      if (ref !== null) this.sink.onPacketAcked(ref, this.recordFragment[i]!, bytes);
    }
    return true;
  }

  /** A packet declared lost was acked: widen the thresholds so the same reordering is tolerated. */
  private onLateAck(slot: number, pn: number): void {
    this.state[slot] = EMPTY;
    this.spuriousLosses++;
    const distance = this.lostAtLargest[slot]! - pn;
    this.packetThreshold = Math.min(MAX_PACKET_THRESHOLD, Math.max(this.packetThreshold, distance + 1));
    this.timeThreshold = Math.min(MAX_TIME_THRESHOLD, this.timeThreshold + 0.125);
    this.sink.onSpuriousLoss();
  }

  /** Declares lost what the acks prove lost; returns how many. */
  detectLosses(nowMs: number, rttMs: number): number {
    const tooOldMs = nowMs - this.timeThreshold * rttMs;
    let lost = 0;
    const end = Math.min(this.largestAcked, this.trackedEnd());
    for (let pn = this.base; pn < end; pn++) {
      const slot = pn & this.mask;
      if (!this.owns(pn, IN_FLIGHT)) continue;
      if (this.largestAcked - pn >= this.packetThreshold || this.sentAtMs[slot]! <= tooOldMs) {
        this.loseOne(pn, nowMs);
        lost++;
      }
    }
    this.advanceBase();
    return lost;
  }

  /**
   * The RTO fired: the oldest packets sent at or before `sentBeforeMs` (at most `maxCount`) are lost;
   * their retransmissions probe the path, and the acks they bring settle the rest by evidence.
   */
  onTimeout(sentBeforeMs: number, maxCount: number): number {
    let lost = 0;
    const end = this.trackedEnd();
    for (let pn = this.base; pn < end && lost < maxCount; pn++) {
      const slot = pn & this.mask;
      if (!this.owns(pn, IN_FLIGHT)) continue;
      if (this.sentAtMs[slot]! > sentBeforeMs) break; // numbers follow send order
      this.loseOne(pn, sentBeforeMs);
      lost++;
    }
    this.advanceBase();
    return lost;
  }

  /** Forgets everything (session ended). */
  clear(): void {
    this.state.fill(EMPTY);
    this.recordRefs.fill(null);
    this.lostHead = this.lostTail;
    this.inFlight = 0;
    this.base = this.next;
  }

  private loseOne(pn: number, nowMs: number): void {
    const slot = pn & this.mask;
    this.state[slot] = LOST;
    this.lostAtLargest[slot] = this.largestAcked;
    if (this.lostTail - this.lostHead > this.mask) this.lostHead++;
    this.lostPn[this.lostTail & this.mask] = pn;
    this.lostAtMs[this.lostTail & this.mask] = nowMs;
    this.lostTail++;
    this.inFlight--;
    const start = this.recordStart[slot]!;
    const count = this.recordCount[slot]!;
    const bytes = this.bytes[slot]!;
    if (count === 0) this.sink.onPacketLost(null, -1, pn, bytes);
    for (let r = start; r < start + count; r++) {
      const i = r & this.recordMask;
      const ref = this.recordRefs[i]!;
      this.recordRefs[i] = null;
      if (ref !== null) this.sink.onPacketLost(ref, this.recordFragment[i]!, pn, bytes);
    }
  }

  /** Moves `base` to the oldest packet in flight (or `next`): past resolved and untracked numbers. */
  private advanceBase(): void {
    if (this.inFlight === 0) {
      this.base = this.next;
      return;
    }
    while (this.base < this.next && !this.owns(this.base, IN_FLIGHT)) this.base++;
  }
}
