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
  DATA_OVERHEAD_BYTES,
  CONNECTION_ID_OFFSET,
  CUMULATIVE_ACK_OFFSET,
  FLAGS_OFFSET,
  FRAGMENT_RECORD_HEADER_BYTES,
  HEADER_BYTES,
  KNOWN_FLAGS,
  KNOWN_RECORD_FLAGS,
  LEAST_UNACKED_OFFSET,
  MAGIC,
  MAGIC_OFFSET,
  MAX_PACKET_TYPE,
  PACKET_NUMBER_OFFSET,
  PAYLOAD_LENGTH_OFFSET,
  PIECE_RECORD_HEADER_BYTES,
  PIECE_UNIT_BYTES,
  PacketType,
  RECEIVE_WINDOW_OFFSET,
  RECORD_FIFO_SEQ_OFFSET,
  RECORD_FLAGS_OFFSET,
  RECORD_FRAGMENT_COUNT_OFFSET,
  RECORD_FRAGMENT_INDEX_OFFSET,
  RECORD_FRAGMENT_OFFSET_OFFSET,
  RECORD_HEADER_BYTES,
  RECORD_LENGTH_OFFSET,
  RECORD_MESSAGE_LENGTH_OFFSET,
  RECORD_MESSAGE_SEQ_OFFSET,
  RECORD_PIECE_FRAGMENT_LENGTH_OFFSET,
  RECORD_PIECE_FRAGMENT_OFFSET_OFFSET,
  RECORD_RESERVED_OFFSET,
  RecordFlags,
  SACK_COUNT_OFFSET,
  SACK_LENGTH_OFFSET,
  SACK_RANGE_BYTES,
  SACK_START_DELTA_OFFSET,
  TYPE_OFFSET,
  VERSION,
  VERSION_OFFSET,
} from './packet-layout.js';
import { seqToWire } from './sequence.js';

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
  /** Start of the body (after the SACK ranges); `payloadLength` bytes long. */
  payloadOffset = 0;
  // DATA only: every record, checked at decode; `selectRecord(i)` copies one into the fields below.
  recordCount = 0;
  private readonly recSeq = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recFifoSeq = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recMessageLength = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recFragmentOffset = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recFragmentIndex = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recFragmentCount = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recDataOffset = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recDataLength = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  private readonly recPieceFragmentOffset = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  /** 0 for a record that is not a piece. */
  private readonly recPieceFragmentLength = new Uint32Array(LIMITS.MAX_RECORDS_PER_PACKET);
  // the selected record
  /** Low 32 bits of the message sequence, as on the wire (the inbox expands it: sequence.ts). */
  messageSeq = 0;
  /** Low 32 bits of the FIFO sequence; 0 for an unordered message. */
  fifoSeq = 0;
  messageLength = 0;
  fragmentOffset = 0;
  fragmentIndex = 0;
  fragmentCount = 0;
  /** Where the selected record's message bytes start in `buf`, and how many there are. */
  dataOffset = 0;
  dataLength = 0;
  /** The selected record is a piece (record flag PIECE) of the fragment at this offset and length. */
  isPiece = false;
  pieceFragmentOffset = 0;
  pieceFragmentLength = 0;

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

  /**
   * Reads a datagram whose AEAD tag was checked and cut off (transport/seal.ts): the tag covered
   * every byte, so there is no checksum to check. Never throws, never allocates.
   */
  decodeOpened(buf: Buffer): DecodeStatus {
    this.buf = buf;
    const length = buf.length;
    if (length < HEADER_BYTES) return 'malformed';
    if (buf.readUInt16BE(MAGIC_OFFSET) !== MAGIC) return 'malformed';
    if (buf[VERSION_OFFSET] !== VERSION) return 'badVersion';
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
    this.payloadOffset = HEADER_BYTES + sackCount * SACK_RANGE_BYTES;
    if (this.payloadOffset + this.payloadLength !== length) return 'malformed';
    if (!this.readSack(buf)) return 'malformed';
    this.recordCount = 0;
    if (type === PacketType.DATA) return this.readRecords(buf, this.payloadOffset, length);
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

  /**
   * Checks every record of a DATA body (all before any is used: a bad one refuses the packet). A
   * fragment or piece record travels alone: several whole small messages may share a packet, but a
   * packet with a fragment record and any other record is malformed (one datagram must not open
   * many reassembly buffers).
   */
  private readRecords(buf: Buffer, at: number, end: number): DecodeStatus {
    if (this.flags !== 0) return 'malformed'; // DATA has no packet flags (a record says FIFO)
    let n = 0;
    let fragments = 0;
    while (at < end) {
      if (n === LIMITS.MAX_RECORDS_PER_PACKET || at + RECORD_HEADER_BYTES > end) return 'malformed';
      const next = this.readRecord(buf, at, end, n);
      if (next < 0) return 'malformed';
      if (this.recFragmentCount[n]! > 1 || this.recPieceFragmentLength[n] !== 0) fragments++;
      at = next;
      n++;
    }
    if (n === 0 || (fragments > 0 && n > 1)) return 'malformed';
    this.recordCount = n;
    this.selectRecord(0);
    return 'ok';
  }

  /** Reads record `n` at `at`; returns where the next one starts, or -1 when it is malformed. */
  private readRecord(buf: Buffer, at: number, end: number, n: number): number {
    const seq = buf.readUInt32BE(at + RECORD_MESSAGE_SEQ_OFFSET);
    const fifoSeq = buf.readUInt32BE(at + RECORD_FIFO_SEQ_OFFSET);
    const dataLength = buf.readUInt16BE(at + RECORD_LENGTH_OFFSET);
    const flags = buf[at + RECORD_FLAGS_OFFSET]!;
    // (any message sequence is valid: wire 0 is message 2^32 after the wrap, see sequence.ts)
    if ((flags & ~KNOWN_RECORD_FLAGS) !== 0 || buf[at + RECORD_RESERVED_OFFSET] !== 0) return -1;
    let messageLength = dataLength;
    let fragmentOffset = 0;
    let index = 0;
    let count = 1;
    let dataOffset = at + RECORD_HEADER_BYTES;
    this.recPieceFragmentLength[n] = 0;
    if ((flags & RecordFlags.FRAGMENT) !== 0) {
      const piece = (flags & RecordFlags.PIECE) !== 0;
      dataOffset = at + (piece ? PIECE_RECORD_HEADER_BYTES : FRAGMENT_RECORD_HEADER_BYTES);
      if (dataOffset > end) return -1;
      messageLength = buf.readUInt32BE(at + RECORD_MESSAGE_LENGTH_OFFSET);
      fragmentOffset = buf.readUInt32BE(at + RECORD_FRAGMENT_OFFSET_OFFSET);
      index = buf.readUInt32BE(at + RECORD_FRAGMENT_INDEX_OFFSET);
      count = buf.readUInt32BE(at + RECORD_FRAGMENT_COUNT_OFFSET);
      if (messageLength > LIMITS.MAX_MESSAGE_BYTES) return -1;
      if (count < (piece ? 1 : 2) || count > LIMITS.MAX_FRAGMENTS || index >= count) return -1;
      if (count > messageLength) return -1;
      if (fragmentOffset + dataLength > messageLength || dataLength === 0) return -1;
      if (piece) {
        if (!this.readPiece(buf, at, n, fragmentOffset, dataLength, messageLength, index, count)) return -1;
      } else if (!isFragmentCut(fragmentOffset, dataLength, index, count, messageLength)) {
        return -1;
      }
    } else if ((flags & RecordFlags.PIECE) !== 0) {
      return -1; // a piece is always of a fragment
    }
    if (dataOffset + dataLength > end) return -1;
    this.recSeq[n] = seq;
    this.recFifoSeq[n] = fifoSeq;
    this.recMessageLength[n] = messageLength;
    this.recFragmentOffset[n] = fragmentOffset;
    this.recFragmentIndex[n] = index;
    this.recFragmentCount[n] = count;
    this.recDataOffset[n] = dataOffset;
    this.recDataLength[n] = dataLength;
    return dataOffset + dataLength;
  }

  /**
   * A piece lies inside its fragment, at a multiple of PIECE_UNIT_BYTES from its start, full unless
   * last; the fragment it claims is one a packet can carry and is fragment `index` of an even cut.
   */
  private readPiece(
    buf: Buffer,
    at: number,
    n: number,
    offset: number,
    length: number,
    messageLength: number,
    index: number,
    count: number,
  ): boolean {
    const fragOffset = buf.readUInt32BE(at + RECORD_PIECE_FRAGMENT_OFFSET_OFFSET);
    const fragLength = buf.readUInt32BE(at + RECORD_PIECE_FRAGMENT_LENGTH_OFFSET);
    const into = offset - fragOffset;
    if (fragLength === 0 || fragLength > MAX_FRAGMENT_BYTES) return false;
    if (!isFragmentCut(fragOffset, fragLength, index, count, messageLength)) return false;
    if (into < 0 || into % PIECE_UNIT_BYTES !== 0 || into >= fragLength) return false;
    if (length !== Math.min(PIECE_UNIT_BYTES, fragLength - into)) return false;
    this.recPieceFragmentOffset[n] = fragOffset;
    this.recPieceFragmentLength[n] = fragLength;
    return true;
  }

  /** Makes record `i` (< recordCount) the one the record fields describe. */
  selectRecord(i: number): void {
    this.messageSeq = this.recSeq[i]!;
    this.fifoSeq = this.recFifoSeq[i]!;
    this.messageLength = this.recMessageLength[i]!;
    this.fragmentOffset = this.recFragmentOffset[i]!;
    this.fragmentIndex = this.recFragmentIndex[i]!;
    this.fragmentCount = this.recFragmentCount[i]!;
    this.dataOffset = this.recDataOffset[i]!;
    this.dataLength = this.recDataLength[i]!;
    this.pieceFragmentLength = this.recPieceFragmentLength[i]!;
    this.pieceFragmentOffset = this.recPieceFragmentOffset[i]!;
    this.isPiece = this.pieceFragmentLength !== 0;
  }

  /** The selected record's message bytes (a view into the datagram, no copy). */
  recordData(): Buffer {
    return this.buf.subarray(this.dataOffset, this.dataOffset + this.dataLength);
  }

  /** The body bytes (a view into the datagram, no copy). */
  payload(): Buffer {
    return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength);
  }
}

/** The largest fragment a DATA packet can carry (a piece's claimed fragment is never larger). */
const MAX_FRAGMENT_BYTES = LIMITS.MAX_PACKET_BYTES - DATA_OVERHEAD_BYTES;

/**
 * Is [fragOffset, fragOffset + fragLength) fragment `index` of `count` of a `messageLength`-byte
 * message cut evenly (every fragment the same length but the last, which is no longer)? Ties the
 * index to the bytes, so a record cannot mark fragment i received with bytes from elsewhere.
 */
export function isFragmentCut(
  fragOffset: number,
  fragLength: number,
  index: number,
  count: number,
  messageLength: number,
): boolean {
  if (index < count - 1) {
    const last = messageLength - (count - 1) * fragLength; // the last fragment's length under this cut
    return fragOffset === index * fragLength && last > 0 && last <= fragLength;
  }
  if (fragOffset + fragLength !== messageLength) return false;
  if (index === 0) return fragOffset === 0;
  return fragOffset % index === 0 && fragLength <= fragOffset / index;
}

/**
 * The fragment length of the cut a fragment record claims (`view` selected it): the length of every
 * fragment but the last. All records of one message must claim the same cut (inbox.ts).
 */
export function claimedCutBytes(view: PacketView): number {
  const offset = view.isPiece ? view.pieceFragmentOffset : view.fragmentOffset;
  const length = view.isPiece ? view.pieceFragmentLength : view.dataLength;
  if (view.fragmentIndex < view.fragmentCount - 1 || view.fragmentIndex === 0) return length;
  return offset / view.fragmentIndex;
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

/** Bytes of a record's header: a whole message's, or a fragment's (`fragmentCount` > 1). */
export function recordHeaderBytes(fragmentCount: number): number {
  return fragmentCount === 1 ? RECORD_HEADER_BYTES : FRAGMENT_RECORD_HEADER_BYTES;
}

/**
 * Writes a DATA record header at `at` for `dataLength` bytes of message `messageSeq`: the short form
 * for a whole message (`fragmentCount` 1), the fragment form otherwise (its count must be >= 2 for
 * the packet to be valid). The sequences are full numbers; their low 32 bits go on the wire
 * (sequence.ts). Returns where the bytes go.
 */
export function writeRecordHeader(
  buf: Buffer,
  at: number,
  messageSeq: number,
  fifoSeq: number,
  dataLength: number,
  messageLength: number,
  fragmentOffset: number,
  fragmentIndex: number,
  fragmentCount: number,
): number {
  buf.writeUInt32BE(seqToWire(messageSeq), at + RECORD_MESSAGE_SEQ_OFFSET);
  buf.writeUInt32BE(seqToWire(fifoSeq), at + RECORD_FIFO_SEQ_OFFSET);
  buf.writeUInt16BE(dataLength, at + RECORD_LENGTH_OFFSET);
  buf[at + RECORD_RESERVED_OFFSET] = 0;
  if (fragmentCount === 1) {
    buf[at + RECORD_FLAGS_OFFSET] = 0;
    return at + RECORD_HEADER_BYTES;
  }
  buf[at + RECORD_FLAGS_OFFSET] = RecordFlags.FRAGMENT;
  buf.writeUInt32BE(messageLength, at + RECORD_MESSAGE_LENGTH_OFFSET);
  buf.writeUInt32BE(fragmentOffset, at + RECORD_FRAGMENT_OFFSET_OFFSET);
  buf.writeUInt32BE(fragmentIndex, at + RECORD_FRAGMENT_INDEX_OFFSET);
  buf.writeUInt32BE(fragmentCount, at + RECORD_FRAGMENT_COUNT_OFFSET);
  return at + FRAGMENT_RECORD_HEADER_BYTES;
}

/**
 * Writes a PIECE record header at `at`: bytes [offset, offset + dataLength) of message `messageSeq`,
 * a piece of the fragment at `pieceFragmentOffset` (`pieceFragmentLength` bytes). Returns where the
 * bytes go.
 */
export function writePieceRecordHeader(
  buf: Buffer,
  at: number,
  messageSeq: number,
  fifoSeq: number,
  dataLength: number,
  messageLength: number,
  offset: number,
  fragmentIndex: number,
  fragmentCount: number,
  pieceFragmentOffset: number,
  pieceFragmentLength: number,
): number {
  writeRecordHeader(buf, at, messageSeq, fifoSeq, dataLength, messageLength, offset, fragmentIndex, 2);
  buf[at + RECORD_FLAGS_OFFSET] = RecordFlags.FRAGMENT | RecordFlags.PIECE;
  buf.writeUInt32BE(fragmentCount, at + RECORD_FRAGMENT_COUNT_OFFSET);
  buf.writeUInt32BE(pieceFragmentOffset, at + RECORD_PIECE_FRAGMENT_OFFSET_OFFSET);
  buf.writeUInt32BE(pieceFragmentLength, at + RECORD_PIECE_FRAGMENT_LENGTH_OFFSET);
  return at + PIECE_RECORD_HEADER_BYTES;
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

/** One DATA record, as a plain object (control path, tests, fixtures). */
export interface RecordFields {
  messageSeq: number;
  /** 0 for an unordered message. */
  fifoSeq: number;
  messageLength: number;
  fragmentOffset: number;
  fragmentIndex: number;
  /** 1: a whole message (short record; its length is the data's); more: a fragment record. */
  fragmentCount: number;
  /** A piece of the fragment at this offset and length (a PIECE record). */
  piece?: { fragmentOffset: number; fragmentLength: number };
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
  /** DATA with one record whose bytes are `payload`. */
  data?: RecordFields;
  /** With `data`: the record is a piece of this fragment. */
  piece?: { fragmentOffset: number; fragmentLength: number };
  /** DATA with several records, each with its bytes (instead of `data` and `payload`). */
  records?: readonly (RecordFields & { bytes: Uint8Array })[];
  /** The body: a control body, or the one record's bytes with `data`. */
  payload?: Uint8Array;
}

/** Encodes a whole packet into a new buffer (allocates: control path and tests only). */
export function encodePacket(f: PacketFields): Buffer {
  const sack = f.sack ?? [];
  const payload = f.payload ?? new Uint8Array(0);
  const one = f.data ? { ...f.data, bytes: payload, ...(f.piece ? { piece: f.piece } : {}) } : null;
  const records = f.records ?? (one ? [one] : null);
  let bodyBytes = payload.length;
  if (records) {
    bodyBytes = 0;
    for (const r of records)
      bodyBytes +=
        (r.piece ? PIECE_RECORD_HEADER_BYTES : recordHeaderBytes(r.fragmentCount)) + r.bytes.length;
  }
  const length = HEADER_BYTES + sack.length * SACK_RANGE_BYTES + bodyBytes;
  const buf = Buffer.alloc(length);
  const cumAck = f.cumulativeAck ?? 0;
  writeHeader(
    buf,
    f.type,
    f.flags ?? 0,
    sack.length,
    bodyBytes,
    Number(f.connectionId >> 32n),
    Number(f.connectionId & 0xffff_ffffn),
    f.packetNumber ?? 0,
    cumAck,
    f.leastUnacked ?? 0,
    f.receiveWindow ?? 0,
  );
  sack.forEach(([start, len], i) => writeSackRange(buf, i, cumAck, start, len));
  let at = bodyOffset(sack.length);
  if (!records) {
    buf.set(payload, at);
    return sealPacket(buf, length);
  }
  for (const r of records) {
    const args = [
      buf,
      at,
      r.messageSeq,
      r.fifoSeq,
      r.bytes.length,
      r.messageLength,
      r.fragmentOffset,
      r.fragmentIndex,
      r.fragmentCount,
    ] as const;
    at = r.piece
      ? writePieceRecordHeader(...args, r.piece.fragmentOffset, r.piece.fragmentLength)
      : writeRecordHeader(...args);
    buf.set(r.bytes, at);
    at += r.bytes.length;
  }
  return sealPacket(buf, length);
}

/** The connection id of a view as a bigint (control path). */
export function connectionIdOf(view: PacketView): bigint {
  return (BigInt(view.connectionIdHigh) << 32n) | BigInt(view.connectionIdLow);
}
