/**
 * Hot-path layouts with hand-written offsets: data blocks of uploads and append sequences, and the
 * reply of a download read. These run once per block (thousands per second), so they are read and
 * written in place, into pooled buffers, without building objects; tests check that the offsets
 * equal the table-driven layout of messages.ts.
 *
 * UPLOAD_BLOCK and APPEND_DATA requests (position = byte offset, or sequence number for appends):
 * ```
 *  0                8              12                      20                      28
 *  +----------------+--------------+-----------------------+-----------------------+--------...
 *  | header (8)     | transferId   | position (u64 LE)     | xxhash64 of data      | data
 *  +----------------+--------------+-----------------------+-----------------------+--------...
 * ```
 * DOWNLOAD_READ reply (status OK):
 * ```
 *  0                8                       16
 *  +----------------+-----------------------+--------...
 *  | header (8)     | xxhash64 of data      | data
 *  +----------------+-----------------------+--------...
 * ```
 */
import { FerryError } from '../../core/errors.js';
import { HEADER_BYTES, REPLY_BIT, STATUS_OK, writeHeader } from './header.js';
import { MESSAGES } from './messages.js';

export const BLOCK_OFF_TRANSFER_ID = 8;
export const BLOCK_OFF_POSITION = 12;
export const BLOCK_OFF_HASH = 20;
export const BLOCK_HEADER_BYTES = 28;

export const READ_REPLY_OFF_HASH = 8;
export const READ_REPLY_HEADER_BYTES = 16;

/** Writes an UPLOAD_BLOCK or APPEND_DATA header into `buf[0..BLOCK_HEADER_BYTES)`. */
export function writeBlockHeader(
  buf: Buffer,
  type: typeof MESSAGES.UPLOAD_BLOCK.type | typeof MESSAGES.APPEND_DATA.type,
  requestId: number,
  transferId: number,
  position: number,
  hash: bigint,
): void {
  writeHeader(buf, type, 0, STATUS_OK, requestId);
  buf.writeUInt32LE(transferId, BLOCK_OFF_TRANSFER_ID);
  buf.writeBigUInt64LE(BigInt(position), BLOCK_OFF_POSITION);
  buf.writeBigUInt64LE(hash, BLOCK_OFF_HASH);
}

/** Fields of a block header, read in place into a caller-owned object. */
export interface BlockHeader {
  transferId: number;
  position: number;
  hash: bigint;
}

/** Reads a block header (message header already checked); throws MALFORMED. */
export function readBlockHeader(buf: Buffer, out: BlockHeader): BlockHeader {
  if (buf.length < BLOCK_HEADER_BYTES) {
    throw new FerryError('MALFORMED', `data block of ${buf.length} bytes is shorter than its header`);
  }
  out.transferId = buf.readUInt32LE(BLOCK_OFF_TRANSFER_ID);
  const position = buf.readBigUInt64LE(BLOCK_OFF_POSITION);
  if (position > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FerryError('MALFORMED', 'data block position exceeds 2^53-1');
  }
  out.position = Number(position);
  out.hash = buf.readBigUInt64LE(BLOCK_OFF_HASH);
  return out;
}

/** Writes a DOWNLOAD_READ OK reply header into `buf[0..READ_REPLY_HEADER_BYTES)`. */
export function writeReadReplyHeader(buf: Buffer, requestId: number, hash: bigint): void {
  writeHeader(buf, MESSAGES.DOWNLOAD_READ.type | REPLY_BIT, 0, STATUS_OK, requestId);
  buf.writeBigUInt64LE(hash, READ_REPLY_OFF_HASH);
}

export { HEADER_BYTES };
