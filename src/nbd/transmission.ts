/**
 * The transmission phase of one NBD connection: parses requests, runs them on the block device,
 * and writes the replies.
 *
 * Why it is built this way:
 * - Many requests run at once and reply out of order, matched by cookie; each reply is written with
 *   consecutive socket writes from one synchronous call, so replies never interleave.
 * - Bounded: at most `maxInFlight` requests and about `maxInFlightBytes` payload bytes per
 *   connection. When either is reached the parser stops where it is and pauses the socket
 *   (back-pressure reaches the client through TCP); it resumes when a reply has gone out.
 * - A bad request gets the NBD error the spec names and the connection keeps working. A WRITE that
 *   is refused (too long, out of range, read-only, bad flags) still has its payload read and
 *   discarded, so the stream stays in sync. Only a broken request magic ends the connection.
 * - Nothing is acknowledged early: a FLUSH, or a write with FUA, is answered only after
 *   BlockDevice.flush() has resolved.
 * - Hot path without allocation: bytes arrive in buffers the connection owns (SocketInput); a write
 *   payload is copied into its slot's buffer (own, or pooled up to NBD_LARGE_BUFFER_BYTES), and once
 *   its header is parsed the rest of it is read by the kernel straight into that buffer. Replies are
 *   built in the slot's buffer and batched per tick with cork/uncork.
 */
import type { Socket } from 'node:net';
import { LIMITS } from '../core/index.js';
import type { BlockExtent } from '../blockdev/types.js';
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_DF,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLAG_REQ_ONE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_ENOSPC,
  NBD_EPERM,
  NBD_FLAG_SEND_FUA,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_NONE,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
} from './constants.js';
import { nbdErrnoOf, nbdMessageOf } from './errno.js';
import type { NbdExport } from './export.js';
import type { Negotiated } from './negotiation.js';
import { splitZeroRuns } from './zero-runs.js';
import { REPLY_HEADER_ROOM, RequestSlot, type LargeBuffers, type SlotOwner } from './request-slot.js';
import type { InputSink, SocketInput } from './socket-input.js';
import {
  CHUNK,
  decodeRequestInto,
  encodeBlockStatusChunk,
  encodeChunkHeader,
  encodeErrorChunk,
  encodeOffsetDataHeader,
  encodeOffsetHole,
  encodeSimpleReply,
  newRequest,
  OFFSET_HOLE,
  REQUEST,
  SIMPLE_REPLY,
  type StatusDescriptor,
} from './transmission-codec.js';

/** The limits one connection runs under (from the server's NbdConfig). */
export interface TransmissionLimits {
  maxInFlight: number;
  maxInFlightBytes: number;
}

/** A failure to report with a chosen NBD error value (not derived from a FerryError code). */
class NbdStatus {
  constructor(
    readonly errno: number,
    readonly message: string,
  ) {}
}

/** Granularity of holes in structured READ replies (the spec asks for multiples of 512). */
const HOLE_GRAIN_BYTES = 4096;

/** Shared zero buffer for WRITE_ZEROES with NO_HOLE (never written to). */
let zeroBuffer: Buffer | null = null;
function zeroes(): Buffer {
  zeroBuffer ??= Buffer.alloc(1024 * 1024);
  return zeroBuffer;
}

export class TransmissionSession implements SlotOwner, InputSink {
  private readonly free: RequestSlot[] = [];
  private slotCount = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly req = newRequest();
  private readonly headerBuf = Buffer.alloc(REQUEST.BYTES);
  private headerFill = 0;
  /** The WRITE whose payload is being received (or skipped, when its pendingErrno is set). */
  private payloadSlot: RequestSlot | null = null;
  private payloadRemaining = 0;
  /** The part of payloadSlot's buffer last offered to the kernel as the next read's target. */
  private aimed: Buffer | null = null;
  /** A WRITE dropped by beginClose: its buffer goes back to the pool when the socket has closed. */
  private dropped: RequestSlot | null = null;
  /** Bytes received but not parsed while the request limits are reached (a copy: reads are lent). */
  private stallBuffer: Buffer | null = null;
  private stalled = false;
  private stalledAt = 0;
  private stalledEnd = 0;
  private corked = false;
  /** DISC received or server closing: read nothing more, end once in-flight requests are answered. */
  private closing = false;
  private readonly structured: boolean;
  private readonly fuaAllowed: boolean;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  constructor(
    private readonly socket: Socket,
    private readonly input: SocketInput,
    private readonly exp: NbdExport,
    private readonly negotiated: Negotiated,
    private readonly limits: TransmissionLimits,
    private readonly large: LargeBuffers,
  ) {
    this.structured = negotiated.structuredReplies;
    this.fuaAllowed = (negotiated.transmissionFlags & NBD_FLAG_SEND_FUA) !== 0;
  }

  /** Starts parsing: `leftover` is what arrived after the handshake's last byte. */
  start(leftover: Buffer): void {
    this.input.setSink(this);
    this.socket.once('close', () => this.onSocketClosed());
    if (leftover.length > 0) this.consume(leftover, 0, leftover.length);
    if (!this.closing && !this.stalled) this.socket.resume();
  }

  /** Stops reading new requests; answers those in flight, then ends the connection. */
  shutdown(): void {
    this.beginClose();
  }

  /** Cuts the connection now (shutdown grace expired, or a protocol violation). */
  destroy(): void {
    this.socket.destroy();
  }

  // --- parsing ---------------------------------------------------------------------------

  /** InputSink: `buf[start, end)` arrived (lent: whatever is kept is copied). */
  bytes(buf: Buffer, start: number, end: number): void {
    this.consume(buf, start, end);
  }

  /** InputSink: the kernel put `n` more payload bytes where `target()` asked. */
  direct(buf: Buffer, n: number): void {
    const slot = this.payloadSlot;
    if (slot === null || buf !== this.aimed || n > this.payloadRemaining) {
      // Cannot happen while SocketInput keeps its contract; the stream would be out of sync.
      this.destroy();
      return;
    }
    this.aimed = null;
    this.payloadRemaining -= n;
    if (this.payloadRemaining === 0) this.completePayload(slot);
  }

  /** InputSink: the rest of the payload being received, so the next read lands in place. */
  target(): Buffer | null {
    const slot = this.payloadSlot;
    if (slot === null || slot.pendingErrno !== 0 || this.closing || this.payloadRemaining === 0) {
      this.aimed = null;
      return null;
    }
    this.aimed = slot.data.subarray(slot.length - this.payloadRemaining, slot.length);
    return this.aimed;
  }

  private consume(buf: Buffer, at: number, end: number): void {
    while (at < end && !this.closing) {
      if (this.payloadSlot) {
        at = this.fillPayload(buf, at, end);
        continue;
      }
      if (!this.canAdmit()) {
        this.stall(buf, at, end);
        return;
      }
      let hbuf = buf;
      let hat = at;
      if (this.headerFill === 0 && end - at >= REQUEST.BYTES) {
        at += REQUEST.BYTES;
      } else {
        const n = Math.min(REQUEST.BYTES - this.headerFill, end - at);
        buf.copy(this.headerBuf, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < REQUEST.BYTES) return;
        this.headerFill = 0;
        hbuf = this.headerBuf;
        hat = 0;
      }
      if (!decodeRequestInto(hbuf, hat, this.req)) {
        this.destroy();
        return;
      }
      at = this.startRequest(buf, at, end);
    }
  }

  private canAdmit(): boolean {
    if (this.inFlightBytes >= this.limits.maxInFlightBytes) return false;
    return this.free.length > 0 || this.slotCount < this.limits.maxInFlight;
  }

  /** Keeps the unparsed bytes (copied unless they already are the stall copy) and stops reading. */
  private stall(buf: Buffer, at: number, end: number): void {
    if (buf !== this.stallBuffer) {
      const n = end - at;
      if (this.stallBuffer === null || this.stallBuffer.length < n) {
        this.stallBuffer = Buffer.allocUnsafeSlow(Math.max(n, LIMITS.NBD_READ_BUFFER_BYTES));
      }
      buf.copy(this.stallBuffer, 0, at, end);
      at = 0;
      end = n;
    }
    this.stalled = true;
    this.stalledAt = at;
    this.stalledEnd = end;
    this.socket.pause();
  }

  private takeSlot(): RequestSlot {
    let slot = this.free.pop();
    if (!slot) {
      slot = new RequestSlot(this, this.large);
      this.slotCount++;
    }
    slot.load(this.req);
    this.inFlight++;
    return slot;
  }

  private charge(slot: RequestSlot, bytes: number): void {
    slot.chargedBytes = bytes;
    this.inFlightBytes += bytes;
  }

  private startRequest(buf: Buffer, at: number, end: number): number {
    if (this.req.type === NBD_CMD_DISC) {
      this.beginClose();
      return at;
    }
    const slot = this.takeSlot();
    if (slot.type !== NBD_CMD_WRITE) {
      this.dispatch(slot);
      return at;
    }
    const status = this.checkWrite(slot);
    if (status) {
      slot.pendingErrno = status.errno;
      slot.pendingMessage = status.message;
    } else {
      this.charge(slot, slot.length);
      slot.data = slot.payloadBuffer(slot.length);
    }
    this.payloadSlot = slot;
    this.payloadRemaining = slot.length;
    return this.payloadRemaining === 0 ? this.fillPayload(buf, at, end) : at;
  }

  /** Copies (or, for a refused WRITE, skips) the payload bytes in `buf[at, end)`. */
  private fillPayload(buf: Buffer, at: number, end: number): number {
    const slot = this.payloadSlot!;
    const n = Math.min(this.payloadRemaining, end - at);
    if (slot.pendingErrno === 0) buf.copy(slot.data, slot.length - this.payloadRemaining, at, at + n);
    this.payloadRemaining -= n;
    if (this.payloadRemaining === 0) this.completePayload(slot);
    return at + n;
  }

  private completePayload(slot: RequestSlot): void {
    this.payloadSlot = null;
    if (slot.pendingErrno !== 0) {
      this.sendError(slot, slot.pendingErrno, slot.pendingMessage);
    } else {
      this.runWrite(slot);
    }
  }

  // --- validation ------------------------------------------------------------------------

  private flagsStatus(slot: RequestSlot, allowed: number): NbdStatus | null {
    const permitted = allowed | (this.fuaAllowed ? NBD_CMD_FLAG_FUA : 0);
    if ((slot.flags & ~permitted) === 0) return null;
    return new NbdStatus(
      NBD_EINVAL,
      `command flags 0x${slot.flags.toString(16)} are not valid for this request`,
    );
  }

  private rangeStatus(slot: RequestSlot, errno: number): NbdStatus | null {
    if (slot.offset + slot.length <= this.exp.device.sizeBytes) return null;
    return new NbdStatus(
      errno,
      `range ${slot.offset}+${slot.length} runs past the end of the export (${this.exp.device.sizeBytes} bytes)`,
    );
  }

  private readOnlyStatus(): NbdStatus | null {
    return this.exp.readOnly ? new NbdStatus(NBD_EPERM, 'the export is read-only') : null;
  }

  private payloadStatus(slot: RequestSlot): NbdStatus | null {
    if (slot.length <= this.exp.maxPayloadBytes) return null;
    return new NbdStatus(
      NBD_EINVAL,
      `request of ${slot.length} bytes is larger than the maximum payload of ${this.exp.maxPayloadBytes} bytes`,
    );
  }

  private checkWrite(slot: RequestSlot): NbdStatus | null {
    return (
      this.flagsStatus(slot, 0) ??
      this.readOnlyStatus() ??
      this.payloadStatus(slot) ??
      this.rangeStatus(slot, NBD_ENOSPC)
    );
  }

  private checkRead(slot: RequestSlot): NbdStatus | null {
    return (
      this.flagsStatus(slot, this.structured ? NBD_CMD_FLAG_DF : 0) ??
      this.payloadStatus(slot) ??
      this.rangeStatus(slot, NBD_EINVAL)
    );
  }

  // --- commands --------------------------------------------------------------------------

  private dispatch(slot: RequestSlot): void {
    switch (slot.type) {
      case NBD_CMD_READ:
        return this.runRead(slot);
      case NBD_CMD_FLUSH:
        return this.runFlush(slot);
      case NBD_CMD_TRIM:
        return this.runTrim(slot);
      case NBD_CMD_WRITE_ZEROES:
        return this.runWriteZeroes(slot);
      case NBD_CMD_BLOCK_STATUS:
        return this.runBlockStatus(slot);
      default:
        return this.sendError(slot, NBD_EINVAL, `unknown command ${slot.type}`);
    }
  }

  private runWrite(slot: RequestSlot): void {
    const done = (slot.flags & NBD_CMD_FLAG_FUA) !== 0 ? slot.onWrittenFua : slot.onOk;
    this.exp.device.write(slot.offset, slot.data).then(done, slot.onFail);
  }

  private runRead(slot: RequestSlot): void {
    const status = this.checkRead(slot);
    if (status) return this.sendError(slot, status.errno, status.message);
    this.charge(slot, slot.length);
    slot.data = slot.replyBuffer(slot.length);
    if (slot.length === 0) return this.sendRead(slot);
    const target = slot.data.subarray(REPLY_HEADER_ROOM, REPLY_HEADER_ROOM + slot.length);
    this.exp.device.readInto(slot.offset, target).then(slot.onReadDone, slot.onFail);
  }

  /**
   * A large read with structured replies whose data has long zero runs: the zeros go out as
   * OFFSET_HOLE chunks, the rest as OFFSET_DATA chunks, the last one marked DONE. The whole read is
   * done before the first chunk is written, so no error can follow. Returns false when there is no
   * hole worth sending (the caller sends one data chunk).
   */
  private sendSparseRead(slot: RequestSlot): boolean {
    const data = slot.data.subarray(REPLY_HEADER_ROOM, REPLY_HEADER_ROOM + slot.length);
    const pieces = splitZeroRuns(
      data,
      slot.length,
      slot.offset,
      HOLE_GRAIN_BYTES,
      LIMITS.NBD_HOLE_READ_MIN_BYTES,
    );
    if (pieces.length === 1 && !pieces[0]!.hole) return false;
    pieces.forEach((piece, i) => {
      const isLast = i === pieces.length - 1;
      const flags = isLast ? NBD_REPLY_FLAG_DONE : 0;
      const onSent = isLast ? slot.onSent : undefined;
      const offset = slot.offset + piece.start;
      if (piece.hole) {
        const h = Buffer.allocUnsafe(CHUNK.BYTES + OFFSET_HOLE.BYTES);
        encodeOffsetHole(h, 0, flags, slot.cookieHi, slot.cookieLo, offset, piece.length);
        this.write(h, onSent);
        return;
      }
      const h = Buffer.allocUnsafe(REPLY_HEADER_ROOM);
      encodeOffsetDataHeader(h, 0, flags, slot.cookieHi, slot.cookieLo, offset, piece.length);
      this.write(h);
      this.write(data.subarray(piece.start, piece.start + piece.length), onSent);
    });
    return true;
  }

  private runFlush(slot: RequestSlot): void {
    const status = this.flagsStatus(slot, 0);
    if (status) return this.sendError(slot, status.errno, status.message);
    if (slot.offset !== 0 || slot.length !== 0) {
      return this.sendError(slot, NBD_EINVAL, 'NBD_CMD_FLUSH must have offset and length 0');
    }
    this.exp.device.flush().then(slot.onOk, slot.onFail);
  }

  private runTrim(slot: RequestSlot): void {
    const status = this.flagsStatus(slot, 0) ?? this.readOnlyStatus() ?? this.rangeStatus(slot, NBD_EINVAL);
    if (status) return this.sendError(slot, status.errno, status.message);
    this.inPieces(slot, (offset, length) => this.exp.device.trim(offset, length));
  }

  private runWriteZeroes(slot: RequestSlot): void {
    const status =
      this.flagsStatus(slot, NBD_CMD_FLAG_NO_HOLE) ??
      this.readOnlyStatus() ??
      this.rangeStatus(slot, NBD_ENOSPC);
    if (status) return this.sendError(slot, status.errno, status.message);
    if ((slot.flags & NBD_CMD_FLAG_NO_HOLE) === 0) {
      this.inPieces(slot, (offset, length) => this.exp.device.writeZeroes(offset, length));
      return;
    }
    const zero = zeroes();
    this.inPieces(
      slot,
      (offset, length) => this.exp.device.write(offset, zero.subarray(0, length)),
      zero.length,
    );
  }

  /**
   * Runs a ranged operation in pieces of at most `pieceBytes` (a TRIM or WRITE_ZEROES may cover up
   * to 4 GiB, more than a device takes in one call), then flushes if FUA was asked, then replies.
   */
  private inPieces(
    slot: RequestSlot,
    op: (offset: number, length: number) => Promise<void>,
    pieceBytes: number = LIMITS.MAX_IO_BYTES,
  ): void {
    const run = async (): Promise<void> => {
      for (let done = 0; done < slot.length;) {
        const n = Math.min(pieceBytes, slot.length - done);
        await op(slot.offset + done, n);
        done += n;
      }
      if ((slot.flags & NBD_CMD_FLAG_FUA) !== 0) await this.exp.device.flush();
    };
    run().then(slot.onOk, slot.onFail);
  }

  private runBlockStatus(slot: RequestSlot): void {
    const contextId = this.negotiated.allocationContextId;
    if (contextId === 0) {
      return this.sendError(slot, NBD_EINVAL, 'no metadata context was selected (NBD_OPT_SET_META_CONTEXT)');
    }
    const status = this.flagsStatus(slot, NBD_CMD_FLAG_REQ_ONE) ?? this.rangeStatus(slot, NBD_EINVAL);
    if (status) return this.sendError(slot, status.errno, status.message);
    if (slot.length === 0) return this.sendError(slot, NBD_EINVAL, 'NBD_CMD_BLOCK_STATUS of length 0');
    this.exp.device.extents(slot.offset, slot.length).then((extents) => {
      const descriptors = statusDescriptors(extents, slot, (slot.flags & NBD_CMD_FLAG_REQ_ONE) !== 0);
      if (this.socket.destroyed) return this.release(slot);
      this.write(
        encodeBlockStatusChunk(NBD_REPLY_FLAG_DONE, slot.cookieHi, slot.cookieLo, contextId, descriptors),
        slot.onSent,
      );
    }, slot.onFail);
  }

  // --- replies (SlotOwner) ---------------------------------------------------------------

  replyOk(slot: RequestSlot): void {
    if (this.socket.destroyed) return this.release(slot);
    encodeSimpleReply(slot.header, 0, 0, slot.cookieHi, slot.cookieLo);
    this.write(slot.header.subarray(0, SIMPLE_REPLY.BYTES), slot.onSent);
  }

  replyError(slot: RequestSlot, err: unknown): void {
    this.sendError(slot, nbdErrnoOf(err), nbdMessageOf(err));
  }

  flushThenReply(slot: RequestSlot): void {
    this.exp.device.flush().then(slot.onOk, slot.onFail);
  }

  sendRead(slot: RequestSlot): void {
    if (this.socket.destroyed) return this.release(slot);
    const end = REPLY_HEADER_ROOM + slot.length;
    if (!this.structured) {
      const start = REPLY_HEADER_ROOM - SIMPLE_REPLY.BYTES;
      encodeSimpleReply(slot.data, start, 0, slot.cookieHi, slot.cookieLo);
      this.write(slot.data.subarray(start, end), slot.onSent);
      return;
    }
    if (slot.length === 0) {
      encodeChunkHeader(
        slot.header,
        0,
        NBD_REPLY_FLAG_DONE,
        NBD_REPLY_TYPE_NONE,
        slot.cookieHi,
        slot.cookieLo,
        0,
      );
      this.write(slot.header.subarray(0, CHUNK.BYTES), slot.onSent);
      return;
    }
    const sparse = (slot.flags & NBD_CMD_FLAG_DF) === 0 && slot.length >= LIMITS.NBD_HOLE_READ_MIN_BYTES;
    if (sparse && this.sendSparseRead(slot)) return;
    encodeOffsetDataHeader(
      slot.data,
      0,
      NBD_REPLY_FLAG_DONE,
      slot.cookieHi,
      slot.cookieLo,
      slot.offset,
      slot.length,
    );
    this.write(slot.data.subarray(0, end), slot.onSent);
  }

  release(slot: RequestSlot): void {
    this.inFlight--;
    this.inFlightBytes -= slot.chargedBytes;
    slot.chargedBytes = 0;
    slot.recycle();
    this.free.push(slot);
    if (this.stalled && this.canAdmit() && !this.closing) this.unstall();
    if (this.closing && this.inFlight === 0) this.finish();
  }

  private unstall(): void {
    this.stalled = false;
    this.consume(this.stallBuffer!, this.stalledAt, this.stalledEnd);
    if (!this.stalled && !this.closing) this.socket.resume();
  }

  /** Error reply: a structured error chunk (with a message) when negotiated, else a simple reply. */
  private sendError(slot: RequestSlot, errno: number, message: string): void {
    if (this.socket.destroyed) return this.release(slot);
    if (this.structured) {
      this.write(
        encodeErrorChunk(NBD_REPLY_FLAG_DONE, slot.cookieHi, slot.cookieLo, errno, message),
        slot.onSent,
      );
      return;
    }
    encodeSimpleReply(slot.header, 0, errno, slot.cookieHi, slot.cookieLo);
    this.write(slot.header.subarray(0, SIMPLE_REPLY.BYTES), slot.onSent);
  }

  /** Writes one piece of a reply; writes of one tick are corked into one system call. */
  private write(buf: Buffer, onSent?: () => void): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(buf, onSent);
  }

  // --- ending ----------------------------------------------------------------------------

  private beginClose(): void {
    if (this.closing) return;
    this.closing = true;
    this.stalled = false;
    this.socket.pause();
    const partial = this.payloadSlot;
    if (partial) {
      // A WRITE whose payload will never arrive: it was not acknowledged, so dropping it is safe.
      // Its buffer may still be the target of a read, so it is recycled once the socket has closed.
      this.payloadSlot = null;
      this.aimed = null;
      this.dropped = partial;
      this.inFlight--;
      this.inFlightBytes -= partial.chargedBytes;
      partial.chargedBytes = 0;
    }
    if (this.inFlight === 0) this.finish();
  }

  /** Every request is answered: end the connection once the replies are flushed. */
  private finish(): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.end(() => this.socket.destroy());
  }

  private onSocketClosed(): void {
    // Requests still running complete into a destroyed socket and only release their slots. A
    // payload that was being received will never complete: its pooled buffer goes back now.
    this.closing = true;
    this.stalled = false;
    this.input.setSink(null);
    const partial = this.payloadSlot ?? this.dropped;
    this.payloadSlot = null;
    this.dropped = null;
    this.aimed = null;
    partial?.recycle();
  }
}

/** Joins neighbouring extents of the same kind and drops empty ones. */
function mergeExtents(extents: readonly BlockExtent[]): BlockExtent[] {
  const out: BlockExtent[] = [];
  for (const e of extents) {
    if (e.length <= 0) continue;
    const last = out[out.length - 1];
    if (last && last.hole === e.hole && last.offset + last.length === e.offset) last.length += e.length;
    else out.push({ offset: e.offset, length: e.length, hole: e.hole });
  }
  return out;
}

/** base:allocation descriptors for [slot.offset, +slot.length): holes read as zeros. */
function statusDescriptors(
  extents: readonly BlockExtent[],
  slot: RequestSlot,
  reqOne: boolean,
): StatusDescriptor[] {
  const merged = mergeExtents(extents);
  const out: StatusDescriptor[] = [];
  let covered = 0;
  for (const e of merged) {
    if (out.length >= LIMITS.NBD_MAX_EXTENTS_PER_REPLY || covered >= slot.length) break;
    const lengthBytes = Math.min(e.length, slot.length - covered);
    out.push({ lengthBytes, status: e.hole ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0 });
    covered += lengthBytes;
    if (reqOne) break;
  }
  if (out.length === 0) out.push({ lengthBytes: slot.length, status: 0 });
  return out;
}
