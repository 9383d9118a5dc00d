/**
 * The receiving half of a session: reassembles fragments into messages, suppresses duplicates, hands
 * complete messages to the application (FIFO ones one at a time, in order) and records which were
 * delivered, for the acks to report.
 *
 * Why a window of message sequences: exactly-once delivery needs to know, for any arriving fragment,
 * whether its message was already handed over. The sender keeps its messages within
 * MAX_MESSAGE_WINDOW of its oldest undelivered one, so a fixed ring of states says it for every
 * sequence still in play, and anything below the ring's base is done. Memory is bounded twice: by
 * `maxReassemblyBytes` per session (advertised to the sender as the receive window) and by the
 * endpoint's `maxReceiveMemoryBytes` over all sessions (receive-memory.ts). A message is charged its
 * claimed length before its buffer is allocated; a fragment whose message does not fit is refused
 * unacked, and comes again later. The one exception to the session budget (the next FIFO message may
 * always start, or a full budget could block the FIFO head for ever) goes to one message at most:
 * each FIFO number belongs to one message from its first fragment to its delivery, and a record that
 * gives a taken, passed or out-of-window FIFO number is malformed. The endpoint budget has no
 * exception.
 *
 * Sequences here are full numbers; a record carries their low 32 bits, expanded against the window's
 * base (the message sequence) and the next FIFO sequence due (the FIFO one) by wire/sequence.ts.
 */
import { LIMITS } from '../../core/limits.js';
import { claimedCutBytes, type PacketView } from '../../wire/packet-codec.js';
import { PIECE_UNIT_BYTES } from '../../wire/packet-layout.js';
import { expandSeq } from '../../wire/sequence.js';
import { DeliveryRule } from '../delivery.js';
import { unlimitedReceiveMemory, type ReceiveMemory } from '../receive-memory.js';
import type { DeliveryMode } from '../types.js';

const NONE = 0;
const PARTIAL = 1;
const COMPLETE = 2;
const DELIVERED = 3;

/** 'malformed': a record that contradicts what the inbox holds for its message (a lying sender). */
export type FragmentResult = 'accepted' | 'duplicate' | 'refused' | 'malformed';

/** A message being reassembled. */
interface Partial {
  buffer: Buffer;
  received: Uint8Array;
  receivedCount: number;
  fragmentCount: number;
  fifoSeq: number;
  /** The cut the first record claimed (length of every fragment but the last); all must agree. */
  cutBytes: number;
  /**
   * Fragments arriving as pieces (the sender's path shrank after it cut them): per fragment, one
   * byte per piece received. A whole copy of the fragment arriving late overlaps them harmlessly.
   */
  pieces: Map<number, Uint8Array> | null;
}

/** A complete message waiting for (or in) the application's handler. */
export interface CompleteMessage {
  seq: number;
  fifoSeq: number;
  mode: DeliveryMode;
  payload: Buffer;
  /** Bytes charged to the reassembly budget. */
  chargedBytes: number;
}

/**
 * Where the inbox hands messages. Returns true when the handler already finished (a synchronous
 * handler); otherwise the owner calls `onHandled(msg)` when it settles.
 */
export type Dispatch = (msg: CompleteMessage) => boolean;

export class Inbox {
  /** Lowest message sequence not yet delivered. */
  private base = 1;
  private highestSeq = 0;
  private readonly states = new Uint8Array(LIMITS.MAX_MESSAGE_WINDOW);
  private readonly mask = LIMITS.MAX_MESSAGE_WINDOW - 1;
  private readonly partials = new Map<number, Partial>();
  /** Hand-over to the application: FIFO in order and one at a time, unordered at once. */
  private readonly rule = new DeliveryRule<CompleteMessage>((msg) => this.finish(msg), false);
  /** The message (sequence) that holds each FIFO number, from its first fragment to its delivery. */
  private readonly fifoOwners = new Map<number, number>();
  /** Where messages go (`setDispatch`); the rule calls it through `dispatchCounted`. */
  private dispatch: Dispatch | null = null;
  /** Bytes of messages handed over whose handlers have not settled (they stay charged until then). */
  private handlingBytes = 0;
  /** The endpoint's budget, charged with `usedBytes` too (set once, before the first record). */
  memory: ReceiveMemory = unlimitedReceiveMemory();
  /** Bytes charged to this session: messages being reassembled, waiting, or in their handlers. */
  usedBytes = 0;
  /** Bytes copied from datagrams into reassembly buffers (single-fragment messages are not copied). */
  copiedBytes = 0;
  /** Messages handed over so far. */
  delivered = 0;
  /**
   * Copy single-fragment messages out of their datagram before handing them over: set when datagrams
   * arrive in a receive slab that is reused after each batch (the native socket), so a handler that
   * keeps its payload across an await never sees it overwritten. Off on dgram, whose buffers are
   * never reused: there the message is a view of its datagram.
   */
  copyWholeMessages = false;
  received = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxMessageBytes: number,
    /** Told after every delivery (the owner schedules an ack reporting it). */
    private readonly onDelivered: () => void,
  ) {}

  get partialCount(): number {
    return this.partials.size;
  }

  /** Messages complete and not yet delivered. */
  get waitingCount(): number {
    return this.rule.waitingCount;
  }

  /** The FIFO sequence handed over next (settable: a test starts an inbox just below the 2^32 wrap). */
  get nextFifo(): number {
    return this.rule.nextFifo;
  }

  set nextFifo(fifoSeq: number) {
    this.rule.nextFifo = fifoSeq;
  }

  /**
   * Takes the DATA record `view` has selected (already checked by the decoder). A whole message is
   * handed over as a view of the datagram (no copy) and charged `chargeBytes` (its share of the
   * datagram it keeps alive); a fragment (or piece) is copied into its message's reassembly buffer.
   */
  onRecord(view: PacketView, chargeBytes: number): FragmentResult {
    const seq = expandSeq(view.messageSeq, this.base);
    if (seq < this.base) return 'duplicate';
    if (seq - this.base >= LIMITS.MAX_MESSAGE_WINDOW) return 'refused';
    if (view.messageLength > this.maxMessageBytes) return 'refused';
    const state = this.states[seq & this.mask]!;
    if (state === COMPLETE || state === DELIVERED) return 'duplicate';
    const fifoSeq = view.fifoSeq === 0 ? 0 : expandSeq(view.fifoSeq, this.nextFifo);
    if (state === NONE && fifoSeq !== 0 && !this.fifoNumberFree(fifoSeq)) return 'malformed';
    if (view.fragmentCount === 1 && state === NONE && !view.isPiece)
      return this.completeSingle(view, seq, fifoSeq, chargeBytes);
    return this.addFragment(view, seq, fifoSeq, state);
  }

  /**
   * May a new message take FIFO number `fifoSeq`? Not when another message holds it, when it was
   * delivered already, or when it lies beyond the window (an honest sender's FIFO messages are a
   * subsequence of its messages, all within MAX_MESSAGE_WINDOW of the oldest undelivered one).
   */
  private fifoNumberFree(fifoSeq: number): boolean {
    const ahead = fifoSeq - this.nextFifo;
    return ahead >= 0 && ahead < LIMITS.MAX_MESSAGE_WINDOW && !this.fifoOwners.has(fifoSeq);
  }

  /** Charges `bytes` to this session and the endpoint; false when either budget says no. */
  private charge(bytes: number, fifo: boolean, fifoSeq: number): boolean {
    if (!this.fits(bytes, fifo, fifoSeq)) return false;
    if (!this.memory.tryCharge(bytes)) return false;
    this.usedBytes += bytes;
    return true;
  }

  private completeSingle(view: PacketView, seq: number, fifoSeq: number, charged: number): FragmentResult {
    const fifo = fifoSeq !== 0;
    if (!this.charge(charged, fifo, fifoSeq)) return 'refused';
    if (fifo) this.fifoOwners.set(fifoSeq, seq);
    let payload = view.recordData();
    if (this.copyWholeMessages) {
      const copy = this.memory.allocate(payload.length);
      if (!copy) {
        this.uncharge(charged);
        if (fifo) this.fifoOwners.delete(fifoSeq);
        return 'refused';
      }
      payload.copy(copy);
      payload = copy;
      this.copiedBytes += payload.length;
    }
    this.markComplete(seq, fifoSeq, fifo, payload, charged);
    return 'accepted';
  }

  private addFragment(view: PacketView, seq: number, fifoSeq: number, state: number): FragmentResult {
    const fifo = fifoSeq !== 0;
    let p = state === PARTIAL ? this.partials.get(seq) : undefined;
    if (!p) {
      if (!this.charge(view.messageLength, fifo, fifoSeq)) return 'refused';
      const buffer = this.memory.allocate(view.messageLength);
      if (!buffer) {
        this.uncharge(view.messageLength);
        return 'refused';
      }
      p = {
        buffer,
        received: new Uint8Array(view.fragmentCount),
        receivedCount: 0,
        fragmentCount: view.fragmentCount,
        fifoSeq,
        cutBytes: claimedCutBytes(view),
        pieces: null,
      };
      if (fifo) this.fifoOwners.set(fifoSeq, seq);
      this.partials.set(seq, p);
      this.states[seq & this.mask] = PARTIAL;
      if (seq > this.highestSeq) this.highestSeq = seq;
    }
    if (
      p.fragmentCount !== view.fragmentCount ||
      p.buffer.length !== view.messageLength ||
      p.fifoSeq !== fifoSeq
    ) {
      return 'refused'; // inconsistent with the first fragment: never trust it
    }
    // a fragment or piece claiming another cut of the message: bytes written where its index says
    // they are not (or a fragment marked complete by a short piece) would deliver bytes never sent
    if (claimedCutBytes(view) !== p.cutBytes) return 'malformed';
    if (p.received[view.fragmentIndex] === 1) return 'duplicate';
    if (view.isPiece && !this.addPiece(p, view)) return 'duplicate';
    view.buf.copy(p.buffer, view.fragmentOffset, view.dataOffset, view.dataOffset + view.dataLength);
    this.copiedBytes += view.dataLength;
    if (view.isPiece && !this.piecesComplete(p, view.fragmentIndex)) return 'accepted';
    p.pieces?.delete(view.fragmentIndex);
    p.received[view.fragmentIndex] = 1;
    p.receivedCount++;
    if (p.receivedCount === p.fragmentCount) {
      this.partials.delete(seq);
      this.markComplete(seq, p.fifoSeq, fifo, p.buffer, p.buffer.length);
    }
    return 'accepted';
  }

  /** Records a piece; false when it was already here. */
  private addPiece(p: Partial, view: PacketView): boolean {
    p.pieces ??= new Map();
    let got = p.pieces.get(view.fragmentIndex);
    const count = Math.ceil(view.pieceFragmentLength / PIECE_UNIT_BYTES);
    if (!got || got.length !== count) {
      // (a different cut of the same fragment cannot come from an honest sender: start over with it)
      got = new Uint8Array(count);
      p.pieces.set(view.fragmentIndex, got);
    }
    const piece = (view.fragmentOffset - view.pieceFragmentOffset) / PIECE_UNIT_BYTES;
    if (got[piece] === 1) return false;
    got[piece] = 1;
    return true;
  }

  private piecesComplete(p: Partial, fragment: number): boolean {
    const got = p.pieces?.get(fragment);
    if (!got) return false;
    for (let i = 0; i < got.length; i++) if (got[i] !== 1) return false;
    return true;
  }

  /** The next FIFO message may always start, so a full budget can never block the FIFO head. */
  private fits(bytes: number, fifo: boolean, fifoSeq: number): boolean {
    if (this.usedBytes + bytes <= this.maxBytes) return true;
    return fifo && fifoSeq === this.nextFifo;
  }

  private markComplete(seq: number, fifoSeq: number, fifo: boolean, payload: Buffer, charged: number): void {
    this.states[seq & this.mask] = COMPLETE;
    if (seq > this.highestSeq) this.highestSeq = seq;
    this.received++;
    const msg: CompleteMessage = {
      seq,
      fifoSeq,
      mode: fifo ? 'fifo' : 'unordered',
      payload,
      chargedBytes: charged,
    };
    this.rule.ready(msg);
  }

  private uncharge(bytes: number): void {
    this.usedBytes -= bytes;
    this.memory.release(bytes);
  }

  /** Sets (or clears) where messages go, and hands over what is waiting. */
  setDispatch(dispatch: Dispatch | null): void {
    this.dispatch = dispatch;
    this.rule.setDispatch(dispatch ? this.dispatchCounted : null);
  }

  /** Hands a message over, counting it as in its handler until it finishes. */
  private readonly dispatchCounted = (msg: CompleteMessage): boolean => {
    this.handlingBytes += msg.chargedBytes;
    return this.dispatch!(msg);
  };

  /** Holds hand-over back (complete messages wait) until `resume`. */
  hold(): void {
    this.rule.hold();
  }

  /** Ends a `hold` and hands over what completed meanwhile. */
  resume(): void {
    this.rule.resume();
  }

  /** The handler of `msg` settled (asynchronously). */
  onHandled(msg: CompleteMessage): void {
    this.rule.onHandled(msg);
  }

  private finish(msg: CompleteMessage): void {
    // the handler settled: a handler that lends payloads back is done with this buffer
    this.memory.recycle(msg.payload);
    this.handlingBytes -= msg.chargedBytes;
    this.uncharge(msg.chargedBytes);
    if (msg.mode === 'fifo' && this.fifoOwners.get(msg.fifoSeq) === msg.seq)
      this.fifoOwners.delete(msg.fifoSeq);
    this.delivered++;
    this.states[msg.seq & this.mask] = DELIVERED;
    while (this.states[this.base & this.mask] === DELIVERED) {
      this.states[this.base & this.mask] = NONE;
      this.base++;
    }
    this.onDelivered();
  }

  /** Every message sequence below this was delivered. */
  get deliveredBelow(): number {
    return this.base;
  }

  /** Delivered ranges above `deliveredBelow`, lowest first; returns the count. */
  deliveredRanges(starts: Float64Array, lengths: Uint32Array, max: number): number {
    let n = 0;
    let seq = this.base;
    while (seq <= this.highestSeq && n < max) {
      if (this.states[seq & this.mask] !== DELIVERED) {
        seq++;
        continue;
      }
      const start = seq;
      while (seq <= this.highestSeq && this.states[seq & this.mask] === DELIVERED) seq++;
      starts[n] = start;
      lengths[n] = seq - start;
      n++;
    }
    return n;
  }

  /** Packets of `chunkBytes` the budget still takes (the advertised receive window). */
  windowPackets(chunkBytes: number, maxPackets: number): number {
    const free = Math.max(0, Math.min(this.maxBytes - this.usedBytes, this.memory.freeBytes));
    return Math.min(maxPackets, Math.floor(free / chunkBytes));
  }

  /**
   * Drops everything (session ended) and gives its memory back; in-handler messages stay valid (and
   * charged) until their handlers settle.
   */
  clear(): void {
    this.partials.clear();
    this.fifoOwners.clear();
    this.rule.clear();
    this.uncharge(this.usedBytes - this.handlingBytes);
  }
}
