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
import { BufferPool, LIMITS } from '../core/index.js';
import { CHUNK, OFFSET_DATA, type NbdRequest } from './transmission-codec.js';

/** Bytes in front of read data in a reply buffer: room for a chunk header and its offset field. */
export const REPLY_HEADER_ROOM = CHUNK.BYTES + OFFSET_DATA.BYTES;

/**
 * Buffers for requests larger than a slot's own buffer (up to NBD_LARGE_BUFFER_BYTES), shared by
 * every connection of a server: a 1 MiB write or read then costs no allocation (and no garbage
 * collection). Created on first use; when all are taken, requests fall back to allocating.
 */
export class LargeBuffers {
  private pool: BufferPool | null = null;

  acquire(bytes: number): Buffer | null {
    if (bytes > LIMITS.NBD_LARGE_BUFFER_BYTES + REPLY_HEADER_ROOM) return null;
    this.pool ??= new BufferPool(
      LIMITS.NBD_LARGE_BUFFER_BYTES + REPLY_HEADER_ROOM,
      LIMITS.NBD_LARGE_BUFFER_COUNT,
    );
    return this.pool.acquire();
  }

  release(buf: Buffer): void {
    this.pool?.release(buf);
  }
}

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
  /** A buffer borrowed from LargeBuffers for this request, returned by `recycle`. */
  private borrowed: Buffer | null = null;

  readonly onOk: () => void;
  readonly onFail: (err: unknown) => void;
  readonly onReadDone: () => void;
  readonly onWrittenFua: () => void;
  readonly onSent: () => void;

  constructor(
    owner: SlotOwner,
    private readonly large: LargeBuffers,
  ) {
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

  /** A buffer with REPLY_HEADER_ROOM + `dataBytes` bytes: the slot's own when it fits, else pooled. */
  replyBuffer(dataBytes: number): Buffer {
    if (dataBytes <= LIMITS.NBD_SLOT_BUFFER_BYTES) return this.own;
    return this.borrow(REPLY_HEADER_ROOM + dataBytes);
  }

  /** A buffer of exactly `bytes` bytes for a write payload: the slot's own when it fits, else pooled. */
  payloadBuffer(bytes: number): Buffer {
    if (bytes <= LIMITS.NBD_SLOT_BUFFER_BYTES) return this.own.subarray(0, bytes);
    return this.borrow(bytes).subarray(0, bytes);
  }

  /** Returns a borrowed buffer; called when the request's reply has been sent. */
  recycle(): void {
    if (this.borrowed) this.large.release(this.borrowed);
    this.borrowed = null;
    this.data = this.own;
  }

  private borrow(bytes: number): Buffer {
    const b = this.large.acquire(bytes);
    if (!b) return Buffer.allocUnsafe(bytes);
    this.borrowed = b;
    return b;
  }
}
