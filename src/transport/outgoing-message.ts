/**
 * A message on its way out: its pieces, how it is cut into fragments, which fragments the peer has,
 * and the two promises (received, delivered) its sender waits on.
 *
 * Why no copy: the payload pieces are kept as given and each fragment is copied straight from them
 * into a packet buffer when (re)sent, so a large message costs no extra memory. The caller must
 * therefore leave the bytes unchanged until `received` resolves.
 *
 * Why lazy promises: most senders never look at `received` or `delivered` (a reply answers a request),
 * and two promises with their resolvers and guards cost more per small message than the rest of the
 * send path. Each promise is made on first access, already settled if the outcome is known.
 */
import { FerryError, type ErrorCode } from '../core/errors.js';
import type { DeliveryMode, MessageInfo, MessageState, SendHandle } from './types.js';

/** Fragment states. */
export const FRAG_UNSENT = 0;
export const FRAG_IN_FLIGHT = 1;
export const FRAG_ACKED = 2;
export const FRAG_LOST = 3;

const ignore = (): void => {};

/** What a message holds once its bytes are no longer needed (one shared empty list). */
const NO_PIECES: readonly Uint8Array[] = Object.freeze([]);

/** Copies below this length go byte by byte: a view for `set` costs more than the bytes. */
const SMALL_COPY_BYTES = 64;

/** Copies `src[from, from + n)` to `dst` at `at` without making a view when it can. */
function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, at: number): void {
  if (n <= SMALL_COPY_BYTES) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else if (from === 0 && n === src.length) {
    dst.set(src, at);
  } else {
    dst.set(src.subarray(from, from + n), at);
  }
}

/**
 * A promise in the state `outcome` says, or a pending one whose resolvers go to `capture`. Rejections
 * are reported through the promise; a caller that ignores one must not crash the process.
 */
function settledOrPending(
  outcome: Outcome,
  capture: (resolve: () => void, reject: (e: Error) => void) => void,
): Promise<void> {
  const p =
    outcome === 'ok'
      ? Promise.resolve()
      : outcome === 'pending'
        ? new Promise<void>(capture)
        : Promise.reject(outcome);
  p.catch(ignore);
  return p;
}

/** Outcome of one of the two promises: pending, resolved, or the error it failed with. */
type Outcome = 'pending' | 'ok' | FerryError;

export class OutgoingMessage implements SendHandle {
  state: MessageState = 'queued';
  errorCode: ErrorCode | undefined;
  readonly fragmentCount: number;
  /**
   * Per fragment: its FRAG_* state and how often it was sent. Typed arrays for a message of several
   * fragments; a one-element plain array for a single-fragment one (the common small message: two
   * typed arrays cost more to make than the rest of the message).
   */
  readonly fragState: Uint8Array | number[];
  readonly sendCount: Uint16Array | number[];
  ackedCount = 0;
  /** Next fragment never sent yet. */
  nextUnsent = 0;
  /**
   * Fragments cut into pieces after the path shrank (session.ts): per fragment, a FRAG_* state per
   * piece of PIECE_UNIT_BYTES. Null until a fragment is too big for the packet size.
   */
  pieceStates: Map<number, Uint8Array> | null = null;
  /**
   * No more work for the session: the peer reported it delivered, or the session ended. A message
   * that only timed out is failed for its caller but not retired: it is still transmitted (from its
   * own copy of the payload, see `fail`), so both sides keep the same view of the session's message
   * sequence and the peer gets the right bytes or none.
   */
  retired = false;
  /** The endpoint's message table counted this message's retirement (message-table.ts). */
  released = false;
  private pieces: readonly Uint8Array[];
  /** Bytes the pieces hold: `sizeBytes`, or 0 once they were let go. */
  private heldBytes: number;
  private receivedOutcome: Outcome = 'pending';
  private deliveredOutcome: Outcome = 'pending';
  private receivedPromise: Promise<void> | null = null;
  private deliveredPromise: Promise<void> | null = null;
  private resolveReceived: (() => void) | null = null;
  private rejectReceived: ((e: Error) => void) | null = null;
  private resolveDelivered: (() => void) | null = null;
  private rejectDelivered: ((e: Error) => void) | null = null;

  constructor(
    readonly messageId: number,
    readonly peerId: string,
    readonly seq: number,
    readonly fifoSeq: number,
    readonly mode: DeliveryMode,
    pieces: readonly Uint8Array[],
    readonly sizeBytes: number,
    readonly chunkBytes: number,
    readonly createdAtMs: number,
  ) {
    this.pieces = pieces;
    this.heldBytes = 0;
    for (const piece of pieces) this.heldBytes += piece.length;
    this.fragmentCount = sizeBytes === 0 ? 1 : Math.ceil(sizeBytes / chunkBytes);
    const single = this.fragmentCount === 1;
    this.fragState = single ? [FRAG_UNSENT] : new Uint8Array(this.fragmentCount);
    this.sendCount = single ? [0] : new Uint16Array(this.fragmentCount);
  }

  /** Resolves when the peer has every fragment. */
  get received(): Promise<void> {
    if (this.receivedPromise) return this.receivedPromise;
    this.receivedPromise = settledOrPending(this.receivedOutcome, (resolve, reject) => {
      this.resolveReceived = resolve;
      this.rejectReceived = reject;
    });
    return this.receivedPromise;
  }

  /** Resolves when the peer's application handled the message. */
  get delivered(): Promise<void> {
    if (this.deliveredPromise) return this.deliveredPromise;
    this.deliveredPromise = settledOrPending(this.deliveredOutcome, (resolve, reject) => {
      this.resolveDelivered = resolve;
      this.rejectDelivered = reject;
    });
    return this.deliveredPromise;
  }

  get finished(): boolean {
    return this.state === 'delivered' || this.state === 'failed';
  }

  /** Still waiting and older than `limitMs` at `nowMs` (`limitMs` 0: no deadline). */
  pastDeadline(nowMs: number, limitMs: number): boolean {
    return limitMs > 0 && !this.finished && nowMs - this.createdAtMs >= limitMs;
  }

  /**
   * Fails the promises with MESSAGE_TIMEOUT. `delivered`: the peer already has the message (it is
   * retired, nothing is copied); otherwise it is still transmitted from its own copy. Returns the
   * payload bytes copied.
   */
  timeOut(limitMs: number, delivered: boolean): number {
    return this.fail(
      'MESSAGE_TIMEOUT',
      `message ${this.messageId} not delivered within ${limitMs} ms`,
      delivered,
    );
  }

  fragmentOffset(index: number): number {
    return index * this.chunkBytes;
  }

  fragmentLength(index: number): number {
    return Math.min(this.chunkBytes, this.sizeBytes - index * this.chunkBytes);
  }

  /** Copies fragment `index` into `dst` at `at`; returns the bytes copied, or -1 (nothing sent) as copyRange. */
  copyFragment(index: number, dst: Buffer, at: number): number {
    return this.copyRange(index * this.chunkBytes, this.fragmentLength(index), dst, at);
  }

  /**
   * Copies message bytes [from, from + length) into `dst` at `at`; returns the bytes copied, or -1
   * when the pieces held do not cover the range (the bytes were let go): then the packet must not go,
   * since whatever the buffer held before would be sent under a valid checksum.
   */
  copyRange(from: number, length: number, dst: Buffer, at: number): number {
    if (!this.covers(from, length)) return -1;
    let left = length;
    let pieceStart = 0;
    for (const piece of this.pieces) {
      const pieceEnd = pieceStart + piece.length;
      if (left > 0 && from < pieceEnd) {
        const n = Math.min(left, pieceEnd - from);
        copyBytes(piece, from - pieceStart, n, dst, at);
        at += n;
        from += n;
        left -= n;
      }
      if (left === 0) break;
      pieceStart = pieceEnd;
    }
    return length;
  }

  /**
   * Views of the message's own bytes that make up fragment `index` (one per piece it spans), written
   * to `out` from 0; returns how many, or -1 when it spans more than `max` pieces (then copy it:
   * a long list of tiny slices costs more than the bytes) or when the pieces held do not cover it
   * (copyRange refuses that too). Nothing is copied: a scatter-gather send passes them to the socket
   * as they are (the caller keeps its bytes unchanged until `received`, as for copies).
   */
  fragmentSlices(index: number, out: Uint8Array[], max: number): number {
    let from = index * this.chunkBytes;
    let left = this.fragmentLength(index);
    let count = 0;
    let pieceStart = 0;
    for (const piece of this.pieces) {
      const pieceEnd = pieceStart + piece.length;
      if (left > 0 && from < pieceEnd) {
        const n = Math.min(left, pieceEnd - from);
        if (count === max) return -1;
        out[count++] = piece.subarray(from - pieceStart, from - pieceStart + n);
        from += n;
        left -= n;
      }
      if (left === 0) break;
      pieceStart = pieceEnd;
    }
    return left === 0 ? count : -1;
  }

  /** Do the pieces held reach byte `from + length` (a range of a message that has all its bytes)? */
  private covers(from: number, length: number): boolean {
    if (from < 0 || length < 0 || from + length > this.sizeBytes) return false;
    return length === 0 || this.heldBytes >= from + length;
  }

  /** A fragment was acked; returns true when that completed the message. */
  onFragmentAcked(index: number): boolean {
    if (this.fragState[index] === FRAG_ACKED) return false;
    this.fragState[index] = FRAG_ACKED;
    this.ackedCount++;
    if (this.ackedCount < this.fragmentCount) return false;
    this.markReceived();
    return true;
  }

  markReceived(): void {
    if (this.state === 'queued' || this.state === 'sending') this.state = 'received';
    this.dropPieces(); // the peer has every byte: let the caller's buffers go
    if (this.receivedOutcome !== 'pending') return;
    this.receivedOutcome = 'ok';
    this.resolveReceived?.();
  }

  markDelivered(): void {
    this.retired = true;
    if (this.state === 'failed' || this.state === 'delivered') return;
    if (this.ackedCount < this.fragmentCount) this.markReceived();
    this.state = 'delivered';
    this.deliveredOutcome = 'ok';
    this.resolveDelivered?.();
  }

  /**
   * Fails the promises; `retire` when the session will not transmit it any more. A message failed
   * but not retired (a timeout) is still transmitted, and its caller may reuse its buffers as soon
   * as the promises fail: so it takes its own copy of the payload first, unless the peer already has
   * every byte. Returns the payload bytes copied (for the copy counter).
   */
  fail(code: ErrorCode, message: string | undefined, retire: boolean): number {
    if (retire) this.retired = true;
    if (this.finished) return 0;
    const err = new FerryError(code, message, { messageId: this.messageId, peer: this.peerId });
    const wasReceived = this.state === 'received';
    this.state = 'failed';
    this.errorCode = code;
    const copied = retire || wasReceived ? this.dropPieces() : this.ownPieces();
    if (!wasReceived && this.receivedOutcome === 'pending') {
      this.receivedOutcome = err;
      this.rejectReceived?.(err);
    }
    this.deliveredOutcome = err;
    this.rejectDelivered?.(err);
    return copied;
  }

  private dropPieces(): number {
    this.pieces = NO_PIECES;
    this.heldBytes = 0;
    return 0;
  }

  /** Replaces the caller's pieces by one copy of them (control path: a timeout). */
  private ownPieces(): number {
    if (this.pieces.length === 0) return 0;
    const own = Buffer.allocUnsafe(this.sizeBytes);
    let at = 0;
    for (const piece of this.pieces) {
      own.set(piece, at);
      at += piece.length;
    }
    this.pieces = [own];
    this.heldBytes = at;
    return at;
  }

  info(): MessageInfo {
    const out: MessageInfo = {
      messageId: this.messageId,
      peerId: this.peerId,
      mode: this.mode,
      sizeBytes: this.sizeBytes,
      state: this.state,
    };
    if (this.errorCode) out.errorCode = this.errorCode;
    return out;
  }
}
