/**
 * Byte layouts of the NBD transmission phase: requests, simple replies, structured reply chunks.
 *
 * Why this shape: these run once per request on the hot path, so the decoder fills a caller-owned
 * object and the encoders write into caller-owned buffers (no allocation per request). The 64-bit
 * cookie is carried as two 32-bit halves and never interpreted; the 64-bit offset becomes a number
 * (exact below 2^53, far beyond the largest device ferry serves; larger values stay out of range).
 */
import {
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from './constants.js';

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Request header, 28 bytes, followed by `length` bytes of data for NBD_CMD_WRITE:
 * ```
 *  0       4       6      8        16       24       28
 *  | magic | flags | type | cookie | offset | length |
 * ```
 */
export const REQUEST = { MAGIC: 0, FLAGS: 4, TYPE: 6, COOKIE: 8, OFFSET: 16, LENGTH: 24, BYTES: 28 } as const;

/**
 * Simple reply, 16 bytes, followed by the data of a successful NBD_CMD_READ:
 * ```
 *  0       4       8        16
 *  | magic | error | cookie |
 * ```
 */
export const SIMPLE_REPLY = { MAGIC: 0, ERROR: 4, COOKIE: 8, BYTES: 16 } as const;

/**
 * Structured reply chunk header, 20 bytes, followed by `length` bytes of payload:
 * ```
 *  0       4       6      8        16       20
 *  | magic | flags | type | cookie | length |
 * ```
 */
export const CHUNK = { MAGIC: 0, FLAGS: 4, TYPE: 6, COOKIE: 8, LENGTH: 16, BYTES: 20 } as const;

/** NBD_REPLY_TYPE_OFFSET_DATA payload prefix: `| offset (8) |` then the data. */
export const OFFSET_DATA = { OFFSET: 0, BYTES: 8 } as const;
/** NBD_REPLY_TYPE_OFFSET_HOLE payload, 12 bytes: `| offset (8) | hole size (4) |`. */
export const OFFSET_HOLE = { OFFSET: 0, SIZE: 8, BYTES: 12 } as const;
/** NBD_REPLY_TYPE_BLOCK_STATUS payload: `| context id (4) |` then descriptors `| length (4) | flags (4) |`. */
export const BLOCK_STATUS = { CONTEXT_ID: 0, BYTES: 4, DESCRIPTOR_BYTES: 8 } as const;
/** NBD_REPLY_TYPE_ERROR payload: `| error (4) | message length (2) | message |`. */
export const ERROR_CHUNK = { ERROR: 0, MESSAGE_LENGTH: 4, BYTES: 6 } as const;

/** A decoded request header. Filled in place by `decodeRequestInto`. */
export interface NbdRequest {
  flags: number;
  type: number;
  cookieHi: number;
  cookieLo: number;
  offset: number;
  length: number;
}

export function newRequest(): NbdRequest {
  return { flags: 0, type: 0, cookieHi: 0, cookieLo: 0, offset: 0, length: 0 };
}

/**
 * Decodes the 28-byte request header at `at` into `out`. Returns false (and leaves `out` in an
 * unspecified state) when the magic is wrong: the stream is out of sync and cannot be recovered.
 */
export function decodeRequestInto(buf: Buffer, at: number, out: NbdRequest): boolean {
  if (buf.readUInt32BE(at + REQUEST.MAGIC) !== NBD_REQUEST_MAGIC) return false;
  out.flags = buf.readUInt16BE(at + REQUEST.FLAGS);
  out.type = buf.readUInt16BE(at + REQUEST.TYPE);
  out.cookieHi = buf.readUInt32BE(at + REQUEST.COOKIE);
  out.cookieLo = buf.readUInt32BE(at + REQUEST.COOKIE + 4);
  out.offset = buf.readUInt32BE(at + REQUEST.OFFSET) * TWO_POW_32 + buf.readUInt32BE(at + REQUEST.OFFSET + 4);
  out.length = buf.readUInt32BE(at + REQUEST.LENGTH);
  return true;
}

/** Writes a 28-byte request header at `at` (clients and tests). Returns the end offset. */
export function encodeRequest(buf: Buffer, at: number, req: NbdRequest): number {
  buf.writeUInt32BE(NBD_REQUEST_MAGIC, at + REQUEST.MAGIC);
  buf.writeUInt16BE(req.flags, at + REQUEST.FLAGS);
  buf.writeUInt16BE(req.type, at + REQUEST.TYPE);
  buf.writeUInt32BE(req.cookieHi >>> 0, at + REQUEST.COOKIE);
  buf.writeUInt32BE(req.cookieLo >>> 0, at + REQUEST.COOKIE + 4);
  writeU64(buf, at + REQUEST.OFFSET, req.offset);
  buf.writeUInt32BE(req.length >>> 0, at + REQUEST.LENGTH);
  return at + REQUEST.BYTES;
}

/** Writes a 16-byte simple reply header at `at`. Returns the end offset. */
export function encodeSimpleReply(
  buf: Buffer,
  at: number,
  error: number,
  cookieHi: number,
  cookieLo: number,
): number {
  buf.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, at + SIMPLE_REPLY.MAGIC);
  buf.writeUInt32BE(error >>> 0, at + SIMPLE_REPLY.ERROR);
  buf.writeUInt32BE(cookieHi >>> 0, at + SIMPLE_REPLY.COOKIE);
  buf.writeUInt32BE(cookieLo >>> 0, at + SIMPLE_REPLY.COOKIE + 4);
  return at + SIMPLE_REPLY.BYTES;
}

/** Writes a 20-byte structured chunk header at `at`. Returns the end offset (where the payload goes). */
export function encodeChunkHeader(
  buf: Buffer,
  at: number,
  flags: number,
  type: number,
  cookieHi: number,
  cookieLo: number,
  payloadBytes: number,
): number {
  buf.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, at + CHUNK.MAGIC);
  buf.writeUInt16BE(flags, at + CHUNK.FLAGS);
  buf.writeUInt16BE(type, at + CHUNK.TYPE);
  buf.writeUInt32BE(cookieHi >>> 0, at + CHUNK.COOKIE);
  buf.writeUInt32BE(cookieLo >>> 0, at + CHUNK.COOKIE + 4);
  buf.writeUInt32BE(payloadBytes >>> 0, at + CHUNK.LENGTH);
  return at + CHUNK.BYTES;
}

/**
 * Writes the header of an OFFSET_DATA chunk (chunk header + 8-byte offset) at `at` for `dataBytes`
 * bytes of data that the caller places right after. Returns the end offset (where the data goes).
 */
export function encodeOffsetDataHeader(
  buf: Buffer,
  at: number,
  flags: number,
  cookieHi: number,
  cookieLo: number,
  offset: number,
  dataBytes: number,
): number {
  const p = encodeChunkHeader(
    buf,
    at,
    flags,
    NBD_REPLY_TYPE_OFFSET_DATA,
    cookieHi,
    cookieLo,
    OFFSET_DATA.BYTES + dataBytes,
  );
  writeU64(buf, p + OFFSET_DATA.OFFSET, offset);
  return p + OFFSET_DATA.BYTES;
}

/** Writes a whole OFFSET_HOLE chunk (32 bytes) at `at`. Returns the end offset. */
export function encodeOffsetHole(
  buf: Buffer,
  at: number,
  flags: number,
  cookieHi: number,
  cookieLo: number,
  offset: number,
  holeBytes: number,
): number {
  const p = encodeChunkHeader(
    buf,
    at,
    flags,
    NBD_REPLY_TYPE_OFFSET_HOLE,
    cookieHi,
    cookieLo,
    OFFSET_HOLE.BYTES,
  );
  writeU64(buf, p + OFFSET_HOLE.OFFSET, offset);
  buf.writeUInt32BE(holeBytes >>> 0, p + OFFSET_HOLE.SIZE);
  return p + OFFSET_HOLE.BYTES;
}

/** One block status descriptor. */
export interface StatusDescriptor {
  lengthBytes: number;
  status: number;
}

/** A whole BLOCK_STATUS chunk (header, context id, descriptors) in a new buffer. */
export function encodeBlockStatusChunk(
  flags: number,
  cookieHi: number,
  cookieLo: number,
  contextId: number,
  descriptors: readonly StatusDescriptor[],
): Buffer {
  const payloadBytes = BLOCK_STATUS.BYTES + descriptors.length * BLOCK_STATUS.DESCRIPTOR_BYTES;
  const b = Buffer.allocUnsafe(CHUNK.BYTES + payloadBytes);
  let p = encodeChunkHeader(b, 0, flags, NBD_REPLY_TYPE_BLOCK_STATUS, cookieHi, cookieLo, payloadBytes);
  b.writeUInt32BE(contextId >>> 0, p + BLOCK_STATUS.CONTEXT_ID);
  p += BLOCK_STATUS.BYTES;
  for (const d of descriptors) {
    b.writeUInt32BE(d.lengthBytes >>> 0, p);
    b.writeUInt32BE(d.status >>> 0, p + 4);
    p += BLOCK_STATUS.DESCRIPTOR_BYTES;
  }
  return b;
}

/** A whole NBD_REPLY_TYPE_ERROR chunk with a human-readable message (at most 4096 bytes of it). */
export function encodeErrorChunk(
  flags: number,
  cookieHi: number,
  cookieLo: number,
  error: number,
  message: string,
): Buffer {
  const msg = truncateUtf8(message, 4096);
  const payloadBytes = ERROR_CHUNK.BYTES + msg.length;
  const b = Buffer.allocUnsafe(CHUNK.BYTES + payloadBytes);
  const p = encodeChunkHeader(b, 0, flags, NBD_REPLY_TYPE_ERROR, cookieHi, cookieLo, payloadBytes);
  b.writeUInt32BE(error >>> 0, p + ERROR_CHUNK.ERROR);
  b.writeUInt16BE(msg.length, p + ERROR_CHUNK.MESSAGE_LENGTH);
  msg.copy(b, p + ERROR_CHUNK.BYTES);
  return b;
}

/** Reads a big-endian unsigned 64-bit value as a number (exact below 2^53). */
export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** Writes a non-negative integer below 2^53 as a big-endian unsigned 64-bit value. */
export function writeU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32) >>> 0, at);
  buf.writeUInt32BE((value % TWO_POW_32) >>> 0, at + 4);
}

/** UTF-8 bytes of `text`, cut at a character boundary so that at most `maxBytes` remain. */
function truncateUtf8(text: string, maxBytes: number): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= maxBytes) return b;
  let end = maxBytes;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}
