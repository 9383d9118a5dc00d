/**
 * Byte layouts of the NBD handshake (fixed newstyle negotiation): pure encode/decode, no I/O.
 *
 * Why offset tables: each field is a named offset, so a layout can be checked against the spec line
 * by line, and decoders refuse bad lengths and strings before anything else looks at them. All
 * integers are big-endian (network byte order). Decoders of option data return null for input that
 * does not follow the layout; the negotiation answers that with NBD_REP_ERR_INVALID.
 */
import {
  EXPORT_NAME_PADDING_BYTES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_INIT_MAGIC,
  NBD_MAX_STRING_BYTES,
  NBD_OPTS_MAGIC,
  NBD_REP_MAGIC,
} from './constants.js';

/**
 * Server greeting, 18 bytes:
 * ```
 *  0          8          16        18
 *  | NBDMAGIC | IHAVEOPT | hs flags |
 * ```
 */
export const GREETING = { INIT_MAGIC: 0, OPTS_MAGIC: 8, FLAGS: 16, BYTES: 18 } as const;

/** Client flags, 4 bytes, sent once after the greeting. */
export const CLIENT_FLAGS_BYTES = 4;

/**
 * Option header, 16 bytes, followed by `length` bytes of option data:
 * ```
 *  0          8        12       16
 *  | IHAVEOPT | option | length |
 * ```
 */
export const OPTION = { MAGIC: 0, OPTION: 8, LENGTH: 12, BYTES: 16 } as const;

/**
 * Option reply header, 20 bytes, followed by `length` bytes of reply data:
 * ```
 *  0           8        12     16       20
 *  | REP_MAGIC | option | type | length |
 * ```
 */
export const OPTION_REPLY = { MAGIC: 0, OPTION: 8, TYPE: 12, LENGTH: 16, BYTES: 20 } as const;

/**
 * Reply to NBD_OPT_EXPORT_NAME, 10 bytes plus 124 zero bytes unless NO_ZEROES was agreed:
 * ```
 *  0      8       10          134
 *  | size | flags | zeroes... |
 * ```
 */
export const EXPORT_NAME_REPLY = { SIZE: 0, FLAGS: 8, BYTES: 10 } as const;

/** NBD_REP_INFO / NBD_INFO_EXPORT payload, 12 bytes: `| type=0 (2) | size (8) | flags (2) |`. */
export const INFO_EXPORT = { TYPE: 0, SIZE: 2, FLAGS: 10, BYTES: 12 } as const;
/** NBD_REP_INFO / NBD_INFO_BLOCK_SIZE payload, 14 bytes: `| type=3 (2) | min (4) | preferred (4) | max (4) |`. */
export const INFO_BLOCK_SIZE = { TYPE: 0, MIN: 2, PREFERRED: 6, MAX: 10, BYTES: 14 } as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface Greeting {
  handshakeFlags: number;
}

export function encodeGreeting(handshakeFlags: number): Buffer {
  const b = Buffer.alloc(GREETING.BYTES);
  b.writeBigUInt64BE(NBD_INIT_MAGIC, GREETING.INIT_MAGIC);
  b.writeBigUInt64BE(NBD_OPTS_MAGIC, GREETING.OPTS_MAGIC);
  b.writeUInt16BE(handshakeFlags, GREETING.FLAGS);
  return b;
}

/** Decodes a greeting (client side, used by tests); null when a magic is wrong. */
export function decodeGreeting(b: Uint8Array): Greeting | null {
  const buf = asBuffer(b);
  if (buf.length < GREETING.BYTES) return null;
  if (buf.readBigUInt64BE(GREETING.INIT_MAGIC) !== NBD_INIT_MAGIC) return null;
  if (buf.readBigUInt64BE(GREETING.OPTS_MAGIC) !== NBD_OPTS_MAGIC) return null;
  return { handshakeFlags: buf.readUInt16BE(GREETING.FLAGS) };
}

export function encodeClientFlags(flags: number): Buffer {
  const b = Buffer.alloc(CLIENT_FLAGS_BYTES);
  b.writeUInt32BE(flags >>> 0, 0);
  return b;
}

export interface OptionHeader {
  option: number;
  lengthBytes: number;
}

/** Decodes an option header; null when the magic is not IHAVEOPT (the stream is out of sync). */
export function decodeOptionHeader(b: Uint8Array): OptionHeader | null {
  const buf = asBuffer(b);
  if (buf.length < OPTION.BYTES) return null;
  if (buf.readBigUInt64BE(OPTION.MAGIC) !== NBD_OPTS_MAGIC) return null;
  return { option: buf.readUInt32BE(OPTION.OPTION), lengthBytes: buf.readUInt32BE(OPTION.LENGTH) };
}

/** An option with its data, as a client sends it (tests and clients). */
export function encodeOption(option: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(OPTION.BYTES + data.length);
  b.writeBigUInt64BE(NBD_OPTS_MAGIC, OPTION.MAGIC);
  b.writeUInt32BE(option >>> 0, OPTION.OPTION);
  b.writeUInt32BE(data.length, OPTION.LENGTH);
  b.set(data, OPTION.BYTES);
  return b;
}

export interface OptionReply {
  option: number;
  replyType: number;
  data: Buffer;
}

/** One option reply: header and data in one buffer. */
export function encodeOptionReply(
  option: number,
  replyType: number,
  data: Uint8Array = Buffer.alloc(0),
): Buffer {
  const b = Buffer.alloc(OPTION_REPLY.BYTES + data.length);
  b.writeBigUInt64BE(NBD_REP_MAGIC, OPTION_REPLY.MAGIC);
  b.writeUInt32BE(option >>> 0, OPTION_REPLY.OPTION);
  b.writeUInt32BE(replyType >>> 0, OPTION_REPLY.TYPE);
  b.writeUInt32BE(data.length, OPTION_REPLY.LENGTH);
  b.set(data, OPTION_REPLY.BYTES);
  return b;
}

/** Decodes an option reply header (client side); null when the magic is wrong. */
export function decodeOptionReplyHeader(
  b: Uint8Array,
): { option: number; replyType: number; lengthBytes: number } | null {
  const buf = asBuffer(b);
  if (buf.length < OPTION_REPLY.BYTES) return null;
  if (buf.readBigUInt64BE(OPTION_REPLY.MAGIC) !== NBD_REP_MAGIC) return null;
  return {
    option: buf.readUInt32BE(OPTION_REPLY.OPTION),
    replyType: buf.readUInt32BE(OPTION_REPLY.TYPE),
    lengthBytes: buf.readUInt32BE(OPTION_REPLY.LENGTH),
  };
}

/** Reply to NBD_OPT_EXPORT_NAME: size, transmission flags, and the zero padding unless `noZeroes`. */
export function encodeExportNameReply(
  sizeBytes: number,
  transmissionFlags: number,
  noZeroes: boolean,
): Buffer {
  const b = Buffer.alloc(EXPORT_NAME_REPLY.BYTES + (noZeroes ? 0 : EXPORT_NAME_PADDING_BYTES));
  b.writeBigUInt64BE(BigInt(sizeBytes), EXPORT_NAME_REPLY.SIZE);
  b.writeUInt16BE(transmissionFlags, EXPORT_NAME_REPLY.FLAGS);
  return b;
}

export function encodeInfoExport(sizeBytes: number, transmissionFlags: number): Buffer {
  const b = Buffer.alloc(INFO_EXPORT.BYTES);
  b.writeUInt16BE(NBD_INFO_EXPORT, INFO_EXPORT.TYPE);
  b.writeBigUInt64BE(BigInt(sizeBytes), INFO_EXPORT.SIZE);
  b.writeUInt16BE(transmissionFlags, INFO_EXPORT.FLAGS);
  return b;
}

export function encodeInfoBlockSize(minBytes: number, preferredBytes: number, maxBytes: number): Buffer {
  const b = Buffer.alloc(INFO_BLOCK_SIZE.BYTES);
  b.writeUInt16BE(NBD_INFO_BLOCK_SIZE, INFO_BLOCK_SIZE.TYPE);
  b.writeUInt32BE(minBytes, INFO_BLOCK_SIZE.MIN);
  b.writeUInt32BE(preferredBytes, INFO_BLOCK_SIZE.PREFERRED);
  b.writeUInt32BE(maxBytes, INFO_BLOCK_SIZE.MAX);
  return b;
}

/** NBD_INFO_NAME payload: `| type=1 (2) | name |`. */
export function encodeInfoName(name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(2 + nameBytes.length);
  b.writeUInt16BE(NBD_INFO_NAME, 0);
  nameBytes.copy(b, 2);
  return b;
}

/** NBD_INFO_DESCRIPTION payload: `| type=2 (2) | description |`. */
export function encodeInfoDescription(description: string): Buffer {
  const text = Buffer.from(description, 'utf8');
  const b = Buffer.alloc(2 + text.length);
  b.writeUInt16BE(NBD_INFO_DESCRIPTION, 0);
  text.copy(b, 2);
  return b;
}

/** NBD_REP_SERVER payload: `| name length (4) | name |`. */
export function encodeRepServer(name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + nameBytes.length);
  b.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(b, 4);
  return b;
}

/** NBD_REP_META_CONTEXT payload: `| context id (4) | name |`. */
export function encodeRepMetaContext(contextId: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + nameBytes.length);
  b.writeUInt32BE(contextId >>> 0, 0);
  nameBytes.copy(b, 4);
  return b;
}

/** Data of NBD_OPT_INFO and NBD_OPT_GO. */
export interface InfoRequest {
  exportName: string;
  /** The NBD_INFO_* types the client asks for, in its order. */
  infoTypes: number[];
}

/**
 * Decodes NBD_OPT_INFO / NBD_OPT_GO data:
 * ```
 *  | name length (4) | name | n (2) | info type (2) x n |
 * ```
 * Null when lengths disagree with the data or the name is not a valid string.
 */
export function decodeInfoRequest(b: Uint8Array): InfoRequest | null {
  const buf = asBuffer(b);
  if (buf.length < 6) return null;
  const nameBytes = buf.readUInt32BE(0);
  if (nameBytes > buf.length - 6) return null;
  const exportName = decodeString(buf.subarray(4, 4 + nameBytes));
  if (exportName === null) return null;
  let at = 4 + nameBytes;
  const count = buf.readUInt16BE(at);
  at += 2;
  if (buf.length - at !== count * 2) return null;
  const infoTypes: number[] = [];
  for (let i = 0; i < count; i++, at += 2) infoTypes.push(buf.readUInt16BE(at));
  return { exportName, infoTypes };
}

export function encodeInfoRequest(req: InfoRequest): Buffer {
  const nameBytes = Buffer.from(req.exportName, 'utf8');
  const b = Buffer.alloc(4 + nameBytes.length + 2 + 2 * req.infoTypes.length);
  b.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(b, 4);
  let at = 4 + nameBytes.length;
  b.writeUInt16BE(req.infoTypes.length, at);
  at += 2;
  for (const t of req.infoTypes) {
    b.writeUInt16BE(t, at);
    at += 2;
  }
  return b;
}

/** Data of NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. */
export interface MetaContextRequest {
  exportName: string;
  queries: string[];
}

/**
 * Decodes meta context option data:
 * ```
 *  | name length (4) | name | n (4) | (query length (4) | query) x n |
 * ```
 * Null when any length runs past the data, bytes are left over, or a string is invalid. The count
 * is checked against the bytes present before any query is read (each query needs 4 bytes at least).
 */
export function decodeMetaContextRequest(b: Uint8Array): MetaContextRequest | null {
  const buf = asBuffer(b);
  if (buf.length < 8) return null;
  const nameBytes = buf.readUInt32BE(0);
  if (nameBytes > buf.length - 8) return null;
  const exportName = decodeString(buf.subarray(4, 4 + nameBytes));
  if (exportName === null) return null;
  let at = 4 + nameBytes;
  const count = buf.readUInt32BE(at);
  at += 4;
  if (count > (buf.length - at) / 4) return null;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.length - at < 4) return null;
    const queryBytes = buf.readUInt32BE(at);
    at += 4;
    if (queryBytes > buf.length - at) return null;
    const query = decodeString(buf.subarray(at, at + queryBytes));
    if (query === null) return null;
    queries.push(query);
    at += queryBytes;
  }
  if (at !== buf.length) return null;
  return { exportName, queries };
}

export function encodeMetaContextRequest(req: MetaContextRequest): Buffer {
  const parts: Buffer[] = [];
  const nameBytes = Buffer.from(req.exportName, 'utf8');
  parts.push(u32(nameBytes.length), nameBytes, u32(req.queries.length));
  for (const q of req.queries) {
    const qb = Buffer.from(q, 'utf8');
    parts.push(u32(qb.length), qb);
  }
  return Buffer.concat(parts);
}

/** A protocol string: valid UTF-8, no NUL, at most 4096 bytes. Null otherwise. */
export function decodeString(b: Uint8Array): string | null {
  if (b.length > NBD_MAX_STRING_BYTES) return null;
  if (b.includes(0)) return null;
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
