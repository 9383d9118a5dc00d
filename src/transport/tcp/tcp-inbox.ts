/**
 * The receiving half of one TCP session: messages that arrived and wait for (or are in) the
 * application's handler, the order FIFO messages are handed over in, the bytes held, and the
 * delivered-message report that goes back to the sender.
 *
 * Why so little: TCP already delivers every byte once and in order, so there is no reassembly, no
 * duplicate detection and no gap. What is left is the contract's delivery rule (FIFO messages one at
 * a time, in order; unordered ones at once; everything waits while there is no handler), a bound on
 * what the application may leave unhandled (the session stops reading the socket past it, and TCP's
 * own flow control then holds the sender back), and the DELIVERED ranges.
 */
import { LIMITS } from '../../core/limits.js';
import { fifoSeqAfter } from '../../wire/sequence.js';
import { DeliveryRule } from '../delivery.js';
import { unlimitedReceiveMemory, type ReceiveMemory } from '../receive-memory.js';
import type { DeliveryMode } from '../types.js';
import { MAX_DELIVERED_RANGES } from './frame-layout.js';

/** A message that arrived, kept while it waits for the handler or runs in it. */
export interface HeldMessage {
  readonly seq: number;
  readonly mode: DeliveryMode;
  readonly payload: Buffer;
  /** Its place in the FIFO order (TCP delivers in order: counted on arrival); 0 when unordered. */
  readonly fifoSeq: number;
}

/** Hands a message to the application; true when the handler already finished with it. */
export type Dispatch = (msg: HeldMessage) => boolean;

export class TcpInbox {
  /** Highest message sequence received (messages arrive in sequence order). */
  lastSeq = 0;
  received = 0;
  delivered = 0;
  /** Payload bytes and messages received and not yet handled. */
  heldBytes = 0;
  heldCount = 0;
  /** Delivered ranges not yet reported to the sender. */
  readonly reportStarts = new Float64Array(MAX_DELIVERED_RANGES);
  readonly reportCounts = new Uint32Array(MAX_DELIVERED_RANGES);
  reportCount = 0;
  /** Messages in those ranges. */
  reportMessages = 0;
  /** Hand-over to the application: FIFO in order and one at a time, unordered at once. */
  private readonly rule = new DeliveryRule<HeldMessage>((msg) => this.finish(msg), true);
  private nextFifoSeq = 1;
  private cleared = false;
  /**
   * The endpoint's receive memory (maxReceiveMemoryBytes over all sessions): held messages are
   * charged to it too, and a full one stops every session's reading (`overLimit`).
   */
  memory: ReceiveMemory = unlimitedReceiveMemory();

  constructor(
    private readonly maxHeldBytes: number,
    /** Called when reports are pending (after a handler finished). */
    private readonly onReportable: () => void,
    /** Called when the report is full: the session must send it (and `takeReports`) at once. */
    private readonly flushReports: () => void,
  ) {}

  /** True while the application holds more than it may: the session stops reading. */
  get overLimit(): boolean {
    return (
      this.heldBytes > this.maxHeldBytes || this.heldCount >= LIMITS.MAX_MESSAGE_WINDOW || this.memory.full
    );
  }

  /** Starts handing messages to the application (and hands over what waited). */
  setDispatch(dispatch: Dispatch): void {
    this.rule.setDispatch(dispatch);
  }

  /** A DATA frame arrived with the next sequence number (the session checked it). */
  onMessage(seq: number, mode: DeliveryMode, payload: Buffer): void {
    this.lastSeq = seq;
    this.received++;
    this.heldBytes += payload.length;
    this.heldCount++;
    this.memory.charge(payload.length);
    let fifoSeq = 0;
    if (mode === 'fifo') {
      fifoSeq = this.nextFifoSeq;
      this.nextFifoSeq = fifoSeqAfter(fifoSeq);
    }
    this.rule.ready({ seq, mode, payload, fifoSeq });
  }

  /** The handler finished with `msg` (asynchronously). */
  onHandled(msg: HeldMessage): void {
    if (this.cleared) return;
    this.rule.onHandled(msg);
    this.onReportable();
  }

  /** Forgets the reported ranges (after the session sent them). */
  takeReports(): void {
    this.reportCount = 0;
    this.reportMessages = 0;
  }

  /** The session ended: nothing more is handed over or reported. */
  clear(): void {
    this.cleared = true;
    this.rule.clear();
    this.memory.release(this.heldBytes);
    this.heldBytes = 0;
    this.heldCount = 0;
    this.reportCount = 0;
    this.reportMessages = 0;
  }

  private finish(msg: HeldMessage): void {
    this.delivered++;
    this.heldBytes -= msg.payload.length;
    this.memory.release(msg.payload.length);
    this.heldCount--;
    if (this.reportCount === MAX_DELIVERED_RANGES) this.flushReports();
    this.reportMessages++;
    const n = this.reportCount;
    if (n > 0 && this.reportStarts[n - 1]! + this.reportCounts[n - 1]! === msg.seq) {
      this.reportCounts[n - 1]!++;
      return;
    }
    this.reportStarts[n] = msg.seq;
    this.reportCounts[n] = 1;
    this.reportCount = n + 1;
  }
}
