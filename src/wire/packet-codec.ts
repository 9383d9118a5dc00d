/**
 * Encoder and fast decoder of ferry packets (layout in packet-layout.ts).
 *
 * Why a flyweight: the receive path decodes every datagram, so `PacketView.decode` fills the fields
 * of one reusable object (numbers and preallocated typed arrays) instead of allocating per packet.
 * Encoding writes straight into a caller's buffer (a pool buffer on the send path) at the named
 * offsets; `sealPacket` adds the xxhash32 last. A large DATA fragment is not copied into the packet
 * buffer at all: the datagram is the header buffer followed by slices of the message's own payload
 * (a scatter-gather send), and `sealGathered` hashes those pieces where they lie. Checksums use the
 * pure-JS xxhash32 of core/xxh32.ts (the wasm binding copies its input first). Every count and length
 * read off the wire is checked against LIMITS before anything is used or allocated.
 */
import { LIMITS } from '../core/limits.js';
import { Xxh32, xxh32Range } from '../core/xxh32.js';
import {
  CHECKSUM_OFFSET,
  CONNECTION_ID_OFFSET,
  CUMULATIVE_ACK_OFFSET,
  DATA_FIFO_SEQ_OFFSET,
  DATA_FRAGMENT_COUNT_OFFSET,
  DATA_FRAGMENT_INDEX_OFFSET,
  DATA_FRAGMENT_OFFSET_OFFSET,
  DATA_HEADER_BYTES,
  DATA_MESSAGE_LENGTH_OFFSET,
  DATA_MESSAGE_SEQ_OFFSET,
  FLAGS_OFFSET,
  Flags,
  HEADER_BYTES,
  KNOWN_FLAGS,
  LEAST_UNACKED_OFFSET,
  MAGIC,
  MAGIC_OFFSET,
  MAX_PACKET_TYPE,
  PACKET_NUMBER_OFFSET,
  PAYLOAD_LENGTH_OFFSET,
  PIECE_FRAGMENT_LENGTH_OFFSET,
  PIECE_FRAGMENT_OFFSET_OFFSET,
  PIECE_HEADER_BYTES,
  PIECE_UNIT_BYTES,
  PacketType,
  RECEIVE_WINDOW_OFFSET,
  SACK_COUNT_OFFSET,
  SACK_LENGTH_OFFSET,
  SACK_RANGE_BYTES,
  SACK_START_DELTA_OFFSET,
  TYPE_OFFSET,
  VERSION,
  VERSION_OFFSET,
} from './packet-layout.js';

const TWO_32 = 0x1_0000_0000;
/** High half of the largest 53-bit value. */
const MAX_HIGH_WORD = 0x1f_ffff;

/** Why a datagram was refused; each maps to a drop counter. */
export type DecodeStatus = 'ok' | 'malformed' | 'badVersion' | 'badChecksum';

/** Writes a number < 2^53 as a big-endian 64-bit field. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

/** Reads a big-endian 64-bit field; returns -1 when it does not fit 53 bits. */
export function readU64(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32BE(offset);
  if (hi > MAX_HIGH_WORD) return -1;
  return hi * TWO_32 + buf.readUInt32BE(offset + 4);
}

/**
 * A decoded packet. One instance is reused for every datagram; after `decode` returns 'ok' the fields
 * describe `buf` until the next call. Payload bytes are `buf[payloadOffset, payloadOffset + payloadLength)`.
 */
export class PacketView {
  buf: Buffer = Buffer.alloc(0);
  type = 0;
  flags = 0;
  sackCount = 0;
  payloadLength = 0;
  connectionIdHigh = 0;
  connectionIdLow = 0;
  packetNumber = 0;
  cumulativeAck = 0;
  leastUnacked = 0;
  receiveWindow = 0;
  checksum = 0;
  /** Absolute first packet number of each SACK range. */
  readonly sackStart = new Float64Array(LIMITS.MAX_SACK_RANGES);
  readonly sackLength = new Uint32Array(LIMITS.MAX_SACK_RANGES);
  // DATA only
  messageSeq = 0;
  fifoSeq = 0;
  messageLength = 0;
  fragmentOffset = 0;
  fragmentIndex = 0;
  fragmentCount = 0;
  /** DATA pieces only (flag PIECE): the whole fragment's offset and length; 0 otherwise. */
  pieceFragmentOffset = 0;
  pieceFragmentLength = 0;
  payloadOffset = 0;

  /** Checks and reads a datagram. Never throws, never allocates. */
  decode(buf: Buffer): DecodeStatus {
    this.buf = buf;
    const length = buf.length;
    if (length < HEADER_BYTES) return 'malformed';
    if (buf.readUInt16BE(MAGIC_OFFSET) !== MAGIC) return 'malformed';
    if (buf[VERSION_OFFSET] !== VERSION) return 'badVersion';
    if (!verifyChecksum(buf)) return 'badChecksum';
    return this.readFields(buf, length);
  }

  private readFields(buf: Buffer, length: number): DecodeStatus {
    const type = buf[TYPE_OFFSET]!;
    const flags = buf[FLAGS_OFFSET]!;
    const sackCount = buf[SACK_COUNT_OFFSET]!;
    if (type < 1 || type > MAX_PACKET_TYPE) return 'malformed';
    if ((flags & ~KNOWN_FLAGS) !== 0) return 'malformed';
    if (sackCount > LIMITS.MAX_SACK_RANGES) return 'malformed';
    this.type = type;
    this.flags = flags;
    this.sackCount = sackCount;
    this.payloadLength = buf.readUInt16BE(PAYLOAD_LENGTH_OFFSET);
    this.connectionIdHigh = buf.readUInt32BE(CONNECTION_ID_OFFSET);
    this.connectionIdLow = buf.readUInt32BE(CONNECTION_ID_OFFSET + 4);
    this.packetNumber = readU64(buf, PACKET_NUMBER_OFFSET);
    this.cumulativeAck = readU64(buf, CUMULATIVE_ACK_OFFSET);
    this.leastUnacked = readU64(buf, LEAST_UNACKED_OFFSET);
    if (this.packetNumber < 0 || this.cumulativeAck < 0 || this.leastUnacked < 0) return 'malformed';
    this.receiveWindow = buf.readUInt32BE(RECEIVE_WINDOW_OFFSET);
    this.checksum = buf.readUInt32BE(CHECKSUM_OFFSET);
    const typeHeaderBytes = type === PacketType.DATA ? dataHeaderBytes(flags) : 0;
    const bodyOffset = HEADER_BYTES + sackCount * SACK_RANGE_BYTES;
    this.payloadOffset = bodyOffset + typeHeaderBytes;
    if (this.payloadOffset + this.payloadLength !== length) return 'malformed';
    if (!this.readSack(buf)) return 'malformed';
    if (type === PacketType.DATA) return this.readData(buf, bodyOffset);
    return 'ok';
  }

  /** Ranges must lie above the cumulative ack, ascending, disjoint and non-adjacent. */
  private readSack(buf: Buffer): boolean {
    let floor = this.cumulativeAck + 1; // first packet number a range may NOT start at or below
    for (let i = 0; i < this.sackCount; i++) {
      const at = HEADER_BYTES + i * SACK_RANGE_BYTES;
      const start = this.cumulativeAck + buf.readUInt32BE(at + SACK_START_DELTA_OFFSET);
      const len = buf.readUInt32BE(at + SACK_LENGTH_OFFSET);
      if (start <= floor || len === 0 || start + len > Number.MAX_SAFE_INTEGER) return false;
      this.sackStart[i] = start;
      this.sackLength[i] = len;
      floor = start + len;
    }
    return true;
  }

  private readData(buf: Buffer, at: number): DecodeStatus {
    const seq = buf.readUInt32BE(at + DATA_MESSAGE_SEQ_OFFSET);
    const fifoSeq = buf.readUInt32BE(at + DATA_FIFO_SEQ_OFFSET);
    const messageLength = buf.readUInt32BE(at + DATA_MESSAGE_LENGTH_OFFSET);
    const fragmentOffset = buf.readUInt32BE(at + DATA_FRAGMENT_OFFSET_OFFSET);
    const index = buf.readUInt32BE(at + DATA_FRAGMENT_INDEX_OFFSET);
    const count = buf.readUInt32BE(at + DATA_FRAGMENT_COUNT_OFFSET);
    const fifo = (this.flags & Flags.FIFO) !== 0;
    if (seq === 0 || fifo !== (fifoSeq !== 0)) return 'malformed';
    if (messageLength > LIMITS.MAX_MESSAGE_BYTES) return 'malformed';
    if (count === 0 || count > LIMITS.MAX_FRAGMENTS || index >= count) return 'malformed';
    if (count > 1 && count > messageLength) return 'malformed';
    if (fragmentOffset + this.payloadLength > messageLength) return 'malformed';
    if (this.payloadLength === 0 && messageLength !== 0) return 'malformed';
    this.messageSeq = seq;
    this.fifoSeq = fifoSeq;
    this.messageLength = messageLength;
    this.fragmentOffset = fragmentOffset;
    this.fragmentIndex = index;
    this.fragmentCount = count;
    this.pieceFragmentOffset = 0;
    this.pieceFragmentLength = 0;
    if ((this.flags & Flags.PIECE) !== 0) return this.readPiece(buf, at + DATA_HEADER_BYTES);
    return 'ok';
  }

  /** A piece lies inside its fragment, at a multiple of PIECE_UNIT_BYTES from its start, full unless last. */
  private readPiece(buf: Buffer, at: number): DecodeStatus {
    const fragOffset = buf.readUInt32BE(at + PIECE_FRAGMENT_OFFSET_OFFSET);
    const fragLength = buf.readUInt32BE(at + PIECE_FRAGMENT_LENGTH_OFFSET);
    const into = this.fragmentOffset - fragOffset;
    if (fragLength === 0 || fragOffset + fragLength > this.messageLength) return 'malformed';
    if (into < 0 || into % PIECE_UNIT_BYTES !== 0 || into >= fragLength) return 'malformed';
    if (this.payloadLength !== Math.min(PIECE_UNIT_BYTES, fragLength - into)) return 'malformed';
    this.pieceFragmentOffset = fragOffset;
    this.pieceFragmentLength = fragLength;
    return 'ok';
  }

  /** The payload bytes (a view into the datagram, no copy). */
  payload(): Buffer {
    return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength);
  }
}

/** xxhash32 of the datagram with its checksum field read as zero; restores the field. */
function computeChecksum(buf: Buffer): number {
  const saved = buf.readUInt32BE(CHECKSUM_OFFSET);
  buf.writeUInt32BE(0, CHECKSUM_OFFSET);
  const sum = xxh32Range(buf, 0, buf.length);
  buf.writeUInt32BE(saved, CHECKSUM_OFFSET);
  return sum;
}

function verifyChecksum(buf: Buffer): boolean {
  return computeChecksum(buf) === buf.readUInt32BE(CHECKSUM_OFFSET);
}

/**
 * Writes the common header at offset 0. `payloadLength` counts the bytes after the SACK ranges and
 * the type header. The checksum is written by `sealPacket` once the whole packet is in place.
 */
export function writeHeader(
  buf: Buffer,
  type: number,
  flags: number,
  sackCount: number,
  payloadLength: number,
  connectionIdHigh: number,
  connectionIdLow: number,
  packetNumber: number,
  cumulativeAck: number,
  leastUnacked: number,
  receiveWindow: number,
): void {
  buf.writeUInt16BE(MAGIC, MAGIC_OFFSET);
  buf[VERSION_OFFSET] = VERSION;
  buf[TYPE_OFFSET] = type;
  buf[FLAGS_OFFSET] = flags;
  buf[SACK_COUNT_OFFSET] = sackCount;
  buf.writeUInt16BE(payloadLength, PAYLOAD_LENGTH_OFFSET);
  buf.writeUInt32BE(connectionIdHigh >>> 0, CONNECTION_ID_OFFSET);
  buf.writeUInt32BE(connectionIdLow >>> 0, CONNECTION_ID_OFFSET + 4);
  writeU64(buf, PACKET_NUMBER_OFFSET, packetNumber);
  writeU64(buf, CUMULATIVE_ACK_OFFSET, cumulativeAck);
  writeU64(buf, LEAST_UNACKED_OFFSET, leastUnacked);
  buf.writeUInt32BE(Math.min(receiveWindow, 0xffff_ffff) >>> 0, RECEIVE_WINDOW_OFFSET);
  buf.writeUInt32BE(0, CHECKSUM_OFFSET);
}

/** Writes SACK range `i` (absolute start, length) relative to the header's cumulative ack. */
export function writeSackRange(
  buf: Buffer,
  i: number,
  cumulativeAck: number,
  start: number,
  length: number,
): void {
  const at = HEADER_BYTES + i * SACK_RANGE_BYTES;
  buf.writeUInt32BE(start - cumulativeAck, at + SACK_START_DELTA_OFFSET);
  buf.writeUInt32BE(length, at + SACK_LENGTH_OFFSET);
}

/** Writes the DATA header after `sackCount` ranges; returns the offset where the payload goes. */
export function writeDataHeader(
  buf: Buffer,
  sackCount: number,
  messageSeq: number,
  fifoSeq: number,
  messageLength: number,
  fragmentOffset: number,
  fragmentIndex: number,
  fragmentCount: number,
): number {
  const at = HEADER_BYTES + sackCount * SACK_RANGE_BYTES;
  buf.writeUInt32BE(messageSeq, at + DATA_MESSAGE_SEQ_OFFSET);
  buf.writeUInt32BE(fifoSeq, at + DATA_FIFO_SEQ_OFFSET);
  buf.writeUInt32BE(messageLength, at + DATA_MESSAGE_LENGTH_OFFSET);
  buf.writeUInt32BE(fragmentOffset, at + DATA_FRAGMENT_OFFSET_OFFSET);
  buf.writeUInt32BE(fragmentIndex, at + DATA_FRAGMENT_INDEX_OFFSET);
  buf.writeUInt32BE(fragmentCount, at + DATA_FRAGMENT_COUNT_OFFSET);
  return at + DATA_HEADER_BYTES;
}

/** Writes the piece header after the DATA header (flag PIECE); returns the offset where the payload goes. */
export function writePieceHeader(
  buf: Buffer,
  at: number,
  fragmentOffset: number,
  fragmentLength: number,
): number {
  buf.writeUInt32BE(fragmentOffset, at + PIECE_FRAGMENT_OFFSET_OFFSET);
  buf.writeUInt32BE(fragmentLength, at + PIECE_FRAGMENT_LENGTH_OFFSET);
  return at + PIECE_HEADER_BYTES;
}

/** Bytes of the DATA type header for these flags (a piece carries its piece header too). */
export function dataHeaderBytes(flags: number): number {
  return (flags & Flags.PIECE) !== 0 ? DATA_HEADER_BYTES + PIECE_HEADER_BYTES : DATA_HEADER_BYTES;
}

/** Offset of the body (payload) of a non-DATA packet with `sackCount` ranges. */
export function bodyOffset(sackCount: number): number {
  return HEADER_BYTES + sackCount * SACK_RANGE_BYTES;
}

/** Computes and writes the checksum over `buf[0, length)`; returns the sealed view. */
export function sealPacket(buf: Buffer, length: number): Buffer {
  const packet = buf.subarray(0, length);
  packet.writeUInt32BE(0, CHECKSUM_OFFSET);
  packet.writeUInt32BE(xxh32Range(packet, 0, length), CHECKSUM_OFFSET);
  return packet;
}

const gatherHash = new Xxh32();

/**
 * Seals a datagram sent as pieces: `header[0, headerLength)` (common header, SACK ranges, type header)
 * followed by `slices[0, sliceCount)`, the payload, where they lie. The checksum covers the whole
 * datagram exactly as `sealPacket` would over the joined bytes; it is written into the header.
 */
export function sealGathered(
  header: Buffer,
  headerLength: number,
  slices: readonly Uint8Array[],
  sliceCount: number,
): void {
  header.writeUInt32BE(0, CHECKSUM_OFFSET);
  const h = gatherHash.reset(0).update(header, 0, headerLength);
  for (let i = 0; i < sliceCount; i++) h.update(slices[i]!);
  header.writeUInt32BE(h.digest(), CHECKSUM_OFFSET);
}

/** Everything a packet carries, as a plain object (control path, tests, fixtures). */
export interface PacketFields {
  type: number;
  flags?: number;
  connectionId: bigint;
  packetNumber?: number;
  cumulativeAck?: number;
  leastUnacked?: number;
  receiveWindow?: number;
  /** [absolute start, length] pairs above the cumulative ack. */
  sack?: readonly (readonly [number, number])[];
  data?: {
    messageSeq: number;
    fifoSeq: number;
    messageLength: number;
    fragmentOffset: number;
    fragmentIndex: number;
    fragmentCount: number;
  };
  /** With flag PIECE: the whole fragment this piece belongs to. */
  piece?: { fragmentOffset: number; fragmentLength: number };
  payload?: Uint8Array;
}

/** Encodes a whole packet into a new buffer (allocates: control path and tests only). */
export function encodePacket(f: PacketFields): Buffer {
  const sack = f.sack ?? [];
  const payload = f.payload ?? new Uint8Array(0);
  const typeHeader = f.type === PacketType.DATA ? dataHeaderBytes(f.flags ?? 0) : 0;
  const length = HEADER_BYTES + sack.length * SACK_RANGE_BYTES + typeHeader + payload.length;
  const buf = Buffer.alloc(length);
  const cumAck = f.cumulativeAck ?? 0;
  writeHeader(
    buf,
    f.type,
    f.flags ?? 0,
    sack.length,
    payload.length,
    Number(f.connectionId >> 32n),
    Number(f.connectionId & 0xffff_ffffn),
    f.packetNumber ?? 0,
    cumAck,
    f.leastUnacked ?? 0,
    f.receiveWindow ?? 0,
  );
  sack.forEach(([start, len], i) => writeSackRange(buf, i, cumAck, start, len));
  let at = bodyOffset(sack.length);
  if (f.data) {
    const d = f.data;
    at = writeDataHeader(
      buf,
      sack.length,
      d.messageSeq,
      d.fifoSeq,
      d.messageLength,
      d.fragmentOffset,
      d.fragmentIndex,
      d.fragmentCount,
    );
    if (f.piece) at = writePieceHeader(buf, at, f.piece.fragmentOffset, f.piece.fragmentLength);
  }
  buf.set(payload, at);
  return sealPacket(buf, length);
}

/** The connection id of a view as a bigint (control path). */
export function connectionIdOf(view: PacketView): bigint {
  return (BigInt(view.connectionIdHigh) << 32n) | BigInt(view.connectionIdLow);
}
