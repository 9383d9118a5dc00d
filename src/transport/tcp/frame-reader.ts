/**
 * The frame accumulator: turns the chunks a TCP socket hands over into whole frames.
 *
 * Why this shape: chunks split frames anywhere (inside a header, inside a body), and a message may be
 * far larger than any chunk. The reader copies as little as it can: a header or a body that lies
 * wholly inside one chunk is handed over as a view of that chunk (no copy); only a header split
 * across chunks is gathered in a 16-byte scratch buffer, and only a body split across chunks is
 * copied, once, into a buffer of exactly its length. That buffer is allocated only after the header
 * was checked (magic, type, flags, sequence, and a length within maxDataBytes or the control-frame
 * limit), so a hostile length never makes the reader allocate. Nothing grows between frames: the
 * reader's own memory is the scratch header plus at most one partial body.
 */
import type { ReceiveMemory } from '../receive-memory.js';
import { readU64 } from '../../wire/packet-codec.js';
import {
  FLAGS_OFFSET,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FrameType,
  KNOWN_FLAGS,
  LENGTH_OFFSET,
  MAGIC_OFFSET,
  MAX_CONTROL_BODY_BYTES,
  MAX_FRAME_TYPE,
  SEQ_OFFSET,
  TYPE_OFFSET,
} from './frame-layout.js';

/** ok: everything consumed; stopped: the sink asked to stop; the rest are fatal stream errors. */
/**
 * `overMemory`: the endpoint's receive memory (maxReceiveMemoryBytes) cannot take the frame's body,
 * or the allocator refused it; the session ends (its peer may connect again and resume).
 */
export type FrameReadStatus = 'ok' | 'stopped' | 'badMagic' | 'malformed' | 'tooLarge' | 'overMemory';

/** The fields of the frame being handed over (the reader itself, read during `onFrame`). */
export interface FrameFields {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
}

export interface FrameSink {
  /**
   * One whole frame. `body` is a view of a socket chunk or a buffer of its own; either way it stays
   * valid after the call (the reader never writes into it again). Return false to stop reading.
   */
  onFrame(frame: FrameFields, body: Buffer): boolean;
}

const EMPTY = Buffer.alloc(0);

export class FrameReader implements FrameFields {
  type = 0;
  flags = 0;
  seq = 0;
  private length = 0;
  private readonly head = Buffer.alloc(FRAME_HEADER_BYTES);
  private headFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  /** Bytes copied in user space (split headers and split bodies), for the stats. */
  copiedBytes = 0;
  /** Whole frames handed over. */
  frames = 0;

  /**
   * Where a body that spans chunks is charged before its buffer is allocated (the session's endpoint
   * sets it; null before: handshake frames are small, MAX_CONTROL_BODY_BYTES at most).
   */
  memory: ReceiveMemory | null = null;
  /** Bytes of the partial body charged to `memory` (given back when the body is handed over). */
  private chargedBytes = 0;

  constructor(
    /** Largest DATA body accepted (0 before the handshake: no DATA then). */
    public maxDataBytes: number,
    public sink: FrameSink,
  ) {}

  /** The stream ends: a partial body's charge is given back. */
  dispose(): void {
    this.releaseCharge();
    this.body = null;
  }

  /** Bytes held for a frame not yet complete (the partial body), for memory accounting. */
  get pendingBytes(): number {
    return this.body ? this.body.length : 0;
  }

  /** Consumes one chunk; after a status other than 'ok' the stream is unusable. */
  push(chunk: Buffer): FrameReadStatus {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.body) {
        const n = Math.min(this.length - this.bodyFill, end - at);
        chunk.copy(this.body, this.bodyFill, at, at + n);
        this.copiedBytes += n;
        this.bodyFill += n;
        at += n;
        if (this.bodyFill < this.length) return 'ok';
        const body = this.body;
        this.body = null;
        this.releaseCharge(); // a held message is charged by the session's inbox from here on
        if (!this.emit(body)) return 'stopped';
        continue;
      }
      let status: FrameReadStatus;
      if (this.headFill === 0 && end - at >= FRAME_HEADER_BYTES) {
        status = this.readHeader(chunk, at);
        at += FRAME_HEADER_BYTES;
      } else {
        const n = Math.min(FRAME_HEADER_BYTES - this.headFill, end - at);
        chunk.copy(this.head, this.headFill, at, at + n);
        this.copiedBytes += n;
        this.headFill += n;
        at += n;
        if (this.headFill < FRAME_HEADER_BYTES) return 'ok';
        this.headFill = 0;
        status = this.readHeader(this.head, 0);
      }
      if (status !== 'ok') return status;
      if (this.length === 0) {
        if (!this.emit(EMPTY)) return 'stopped';
      } else if (end - at >= this.length) {
        const body = chunk.subarray(at, at + this.length);
        at += this.length;
        if (!this.emit(body)) return 'stopped';
      } else {
        const body = this.allocateBody(this.length);
        if (!body) return 'overMemory';
        this.body = body;
        this.bodyFill = 0;
      }
    }
    return 'ok';
  }

  /** A buffer for a body that spans chunks, charged first; null when the memory cap or the allocator says no. */
  private allocateBody(length: number): Buffer | null {
    const memory = this.memory;
    if (!memory) return Buffer.allocUnsafe(length);
    if (!memory.tryCharge(length)) return null;
    const body = memory.allocate(length);
    if (!body) {
      memory.release(length);
      return null;
    }
    this.chargedBytes = length;
    return body;
  }

  private releaseCharge(): void {
    if (this.chargedBytes === 0) return;
    this.memory?.release(this.chargedBytes);
    this.chargedBytes = 0;
  }

  private emit(body: Buffer): boolean {
    this.frames++;
    return this.sink.onFrame(this, body);
  }

  /** Checks a header before anything is allocated for its body. */
  private readHeader(buf: Buffer, at: number): FrameReadStatus {
    if (buf.readUInt16BE(at + MAGIC_OFFSET) !== FRAME_MAGIC) return 'badMagic';
    const type = buf[at + TYPE_OFFSET]!;
    const flags = buf[at + FLAGS_OFFSET]!;
    const length = buf.readUInt32BE(at + LENGTH_OFFSET);
    const seq = readU64(buf, at + SEQ_OFFSET);
    if (type === 0 || type > MAX_FRAME_TYPE || (flags & ~KNOWN_FLAGS) !== 0 || seq < 0) return 'malformed';
    if (flags !== 0 && type !== FrameType.DATA) return 'malformed';
    const limit = type === FrameType.DATA ? this.maxDataBytes : MAX_CONTROL_BODY_BYTES;
    if (length > limit) return 'tooLarge';
    this.type = type;
    this.flags = flags;
    this.seq = seq;
    this.length = length;
    return 'ok';
  }
}
