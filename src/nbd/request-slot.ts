/**
 * One NBD request in flight: its decoded header, its buffers, and its completion callbacks.
 *
 * Why slots: a connection holds at most `maxInFlight` requests, so it keeps that many slot objects
 * and reuses them. Each slot owns a small buffer (payloads and read replies up to
 * NBD_SLOT_BUFFER_BYTES need no allocation) and its callbacks are bound once, when the slot is made,
 * so completing a request creates no closure. A slot goes back to the free list only when its reply
 * has been handed to the kernel (the socket's write callback), because the reply may live in its
 * buffer until then.
 */
import { LIMITS } from '../core/index.js';
import { CHUNK, OFFSET_DATA, type NbdRequest } from './transmission-codec.js';

/** Bytes in front of read data in a reply buffer: room for a chunk header and its offset field. */
export const REPLY_HEADER_ROOM = CHUNK.BYTES + OFFSET_DATA.BYTES;

/** What a slot calls back into: the connection that owns it. */
export interface SlotOwner {
  replyOk(slot: RequestSlot): void;
  replyError(slot: RequestSlot, err: unknown): void;
  sendRead(slot: RequestSlot): void;
  flushThenReply(slot: RequestSlot): void;
  release(slot: RequestSlot): void;
}

export class RequestSlot {
  flags = 0;
  type = 0;
  cookieHi = 0;
  cookieLo = 0;
  offset = 0;
  length = 0;
  /** Bytes charged against the connection's in-flight byte budget. */
  chargedBytes = 0;
  /** NBD error value decided before the payload arrived (the payload is then skipped), else 0. */
  pendingErrno = 0;
  pendingMessage = '';
  /** Write payload, or the read reply buffer (REPLY_HEADER_ROOM bytes, then the data). */
  data: Buffer;
  /** The slot's own buffer: REPLY_HEADER_ROOM + NBD_SLOT_BUFFER_BYTES. */
  readonly own: Buffer;
  /** Room for a simple reply or a chunk header. */
  readonly header: Buffer;

  readonly onOk: () => void;
  readonly onFail: (err: unknown) => void;
  readonly onReadDone: () => void;
  readonly onWrittenFua: () => void;
  readonly onSent: () => void;

  constructor(owner: SlotOwner) {
    this.own = Buffer.allocUnsafeSlow(REPLY_HEADER_ROOM + LIMITS.NBD_SLOT_BUFFER_BYTES);
    this.header = Buffer.allocUnsafeSlow(REPLY_HEADER_ROOM);
    this.data = this.own;
    this.onOk = () => owner.replyOk(this);
    this.onFail = (err: unknown) => owner.replyError(this, err);
    this.onReadDone = () => owner.sendRead(this);
    this.onWrittenFua = () => owner.flushThenReply(this);
    this.onSent = () => owner.release(this);
  }

  /** Takes the fields of a freshly decoded request. */
  load(req: NbdRequest): void {
    this.flags = req.flags;
    this.type = req.type;
    this.cookieHi = req.cookieHi;
    this.cookieLo = req.cookieLo;
    this.offset = req.offset;
    this.length = req.length;
    this.chargedBytes = 0;
    this.pendingErrno = 0;
    this.pendingMessage = '';
    this.data = this.own;
  }

  /** A buffer with REPLY_HEADER_ROOM + `dataBytes` bytes: the slot's own when it fits. */
  replyBuffer(dataBytes: number): Buffer {
    if (dataBytes <= LIMITS.NBD_SLOT_BUFFER_BYTES) return this.own;
    return Buffer.allocUnsafe(REPLY_HEADER_ROOM + dataBytes);
  }

  /** A buffer of exactly `bytes` bytes for a write payload: the slot's own when it fits. */
  payloadBuffer(bytes: number): Buffer {
    if (bytes <= LIMITS.NBD_SLOT_BUFFER_BYTES) return this.own.subarray(0, bytes);
    return Buffer.allocUnsafe(bytes);
  }
}
