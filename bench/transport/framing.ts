/**
 * Length-prefixed framing for the stream transports (TCP, udx-native): each message goes as a
 * 4-byte little-endian length and then the message. The reader keeps only the header of each
 * message (copied into one scratch buffer) and skips the body, so a stream receiver does no more
 * work per byte than a datagram receiver, and nothing is allocated per message.
 */
import { HEADER_BYTES } from './message.js';

export const LENGTH_BYTES = 4;
const HEAD_BYTES = LENGTH_BYTES + HEADER_BYTES;

/** Writes the frame prefix (length + a copy of the header) into a new buffer. */
export function framePrefix(header: Buffer, bodyBytes: number): Buffer {
  const prefix = Buffer.allocUnsafe(HEAD_BYTES);
  prefix.writeUInt32LE(HEADER_BYTES + bodyBytes, 0);
  header.copy(prefix, LENGTH_BYTES, 0, HEADER_BYTES);
  return prefix;
}

export type FrameHandler = (header: Buffer, sizeBytes: number) => void;

export class FrameReader {
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private readonly header = this.head.subarray(LENGTH_BYTES);
  private headFill = 0;
  private bodyLeft = 0;
  private sizeBytes = 0;

  /** `maxMessageBytes` bounds a length field: a larger one means the stream is corrupt. */
  constructor(
    private readonly onFrame: FrameHandler,
    private readonly maxMessageBytes: number,
  ) {}

  /** Consumes one chunk of the stream. Throws on a length outside [HEADER_BYTES, maxMessageBytes]. */
  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.headFill < HEAD_BYTES) {
        const n = Math.min(HEAD_BYTES - this.headFill, chunk.length - off);
        chunk.copy(this.head, this.headFill, off, off + n);
        this.headFill += n;
        off += n;
        if (this.headFill < HEAD_BYTES) return;
        this.startBody();
        if (this.bodyLeft === 0) {
          this.endFrame();
          continue;
        }
      }
      const n = Math.min(this.bodyLeft, chunk.length - off);
      this.bodyLeft -= n;
      off += n;
      if (this.bodyLeft === 0) this.endFrame();
    }
  }

  private startBody(): void {
    this.sizeBytes = this.head.readUInt32LE(0);
    if (this.sizeBytes < HEADER_BYTES || this.sizeBytes > this.maxMessageBytes) {
      throw new Error(
        `corrupt stream: frame length ${this.sizeBytes} outside [${HEADER_BYTES}, ${this.maxMessageBytes}]`,
      );
    }
    this.bodyLeft = this.sizeBytes - HEADER_BYTES;
  }

  private endFrame(): void {
    this.headFill = 0;
    this.bodyLeft = 0;
    this.onFrame(this.header, this.sizeBytes);
  }
}
