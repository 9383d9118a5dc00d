/**
 * Every transfer request and its reply, as field lists (layout rule in codec.ts, header in
 * header.ts). One table is the single source of the wire format: the RPC layer, the server and the
 * docs all read it.
 *
 * Booleans travel as u8 (0/1). Sizes and offsets are u64 (at most 2^53-1), hashes h64 (xxhash64).
 * Handles, device and transfer ids are u32 chosen by the server per session.
 */
import { FerryError } from '../../core/errors.js';
import {
  decodeBody,
  encodeBody,
  encodedSize,
  layoutOf,
  type FieldList,
  type FieldsOf,
  type Layout,
} from './codec.js';
import { HEADER_BYTES, REPLY_BIT, STATUS_ERROR, STATUS_OK, writeHeader } from './header.js';

const FILE_STAT = [
  ['sizeBytes', 'u64'],
  ['mtimeMs', 'f64'],
  ['atimeMs', 'f64'],
  ['ctimeMs', 'f64'],
  ['name', 'str'],
] as const;

/** The message table: request type number, request fields, reply fields. */
export const MESSAGES = {
  // --- session and filesystem metadata ---
  PING: {
    type: 0x01,
    request: [],
    reply: [
      ['readOnly', 'u8'],
      ['maxBlockBytes', 'u32'],
      ['serverName', 'str'],
    ],
  },
  /**
   * Reply `partUploads`, `partBytes`: unfinished uploads on the server and the bytes their part
   * files hold (what `ferry stat` shows; they count against the quota).
   */
  STATFS: {
    type: 0x02,
    request: [],
    reply: [
      ['totalBytes', 'u64'],
      ['usedBytes', 'u64'],
      ['freeBytes', 'u64'],
      ['files', 'u32'],
      ['maxNameBytes', 'u32'],
      ['readOnly', 'u8'],
      ['maxSegmentBytes', 'u32'],
      ['partUploads', 'u32'],
      ['partBytes', 'u64'],
    ],
  },
  STAT: { type: 0x03, request: [['name', 'str']], reply: FILE_STAT },
  /**
   * limit 0 = the server's default page; includeHidden is honoured only by servers that expose
   * hidden names; cursor '' = from the start; prefix '' = every name; delimiter '' or '/' (roll
   * names up into folders at the next '/' after the prefix). Reply `entries`: the entry list, then
   * (when there are any) the folder list, see lists.ts. `hasMore` 0 means nextCursor is null.
   * Requests without prefix and delimiter (before issue 16) still decode: decodeListRequest.
   */
  LIST: {
    type: 0x04,
    request: [
      ['limit', 'u32'],
      ['includeHidden', 'u8'],
      ['cursor', 'str'],
      ['prefix', 'str'],
      ['delimiter', 'str'],
    ],
    reply: [
      ['hasMore', 'u8'],
      ['nextCursor', 'str'],
      ['entries', 'bytes'],
    ],
  },
  UNLINK: { type: 0x05, request: [['name', 'str']], reply: [] },
  RENAME: {
    type: 0x06,
    request: [
      ['from', 'str'],
      ['to', 'str'],
    ],
    reply: [],
  },
  TRUNCATE: {
    type: 0x07,
    request: [
      ['sizeBytes', 'u64'],
      ['name', 'str'],
    ],
    reply: [],
  },
  SET_TIMES: {
    type: 0x08,
    request: [
      ['atimeMs', 'f64'],
      ['mtimeMs', 'f64'],
      ['name', 'str'],
    ],
    reply: [],
  },
  /**
   * The whole-file xxhash64 of a committed file, read and hashed by the server (sync --checksum
   * compares it with the local file's). Servers from before answer UNKNOWN_REQUEST.
   */
  FILE_HASH: {
    type: 0x09,
    request: [['name', 'str']],
    reply: [
      ['sizeBytes', 'u64'],
      ['mtimeMs', 'f64'],
      ['fileHash', 'h64'],
    ],
  },

  // --- file handles (RemoteFlatFs) ---
  CREATE: {
    type: 0x10,
    request: [
      ['exclusive', 'u8'],
      ['sizeBytes', 'u64'],
      ['name', 'str'],
    ],
    reply: [['handle', 'u32']],
  },
  OPEN: {
    type: 0x11,
    request: [
      ['write', 'u8'],
      ['name', 'str'],
    ],
    reply: [['handle', 'u32']],
  },
  CLOSE: { type: 0x12, request: [['handle', 'u32']], reply: [] },
  FSTAT: { type: 0x13, request: [['handle', 'u32']], reply: FILE_STAT },
  READ: {
    type: 0x14,
    request: [
      ['handle', 'u32'],
      ['offset', 'u64'],
      ['length', 'u32'],
    ],
    reply: [['data', 'bytes']],
  },
  WRITE: {
    type: 0x15,
    request: [
      ['handle', 'u32'],
      ['offset', 'u64'],
      ['data', 'bytes'],
    ],
    reply: [],
  },
  APPEND: {
    type: 0x16,
    request: [
      ['handle', 'u32'],
      ['data', 'bytes'],
    ],
    reply: [['offset', 'u64']],
  },
  FTRUNCATE: {
    type: 0x17,
    request: [
      ['handle', 'u32'],
      ['sizeBytes', 'u64'],
    ],
    reply: [],
  },
  FSYNC: { type: 0x18, request: [['handle', 'u32']], reply: [] },

  // --- uploads by offset ---
  /** Reply `verified`: the verified-block bitmap (bit i of byte i>>3, LSB first), empty if fresh. */
  UPLOAD_BEGIN: {
    type: 0x20,
    request: [
      ['sizeBytes', 'u64'],
      ['blockBytes', 'u32'],
      ['fileMode', 'u32'],
      ['sourceTag', 'h64'],
      ['resume', 'u8'],
      ['name', 'str'],
    ],
    reply: [
      ['transferId', 'u32'],
      ['blockCount', 'u32'],
      ['resumed', 'u8'],
      ['verified', 'bytes'],
    ],
  },
  /** Hot path: see block.ts for the fixed offsets; the data follows the fields. */
  UPLOAD_BLOCK: {
    type: 0x21,
    request: [
      ['transferId', 'u32'],
      ['offset', 'u64'],
      ['hash', 'h64'],
      ['data', 'bytes'],
    ],
    reply: [],
  },
  /** verify 0: the client did not compute fileHash (--no-verify); the server skips the check. */
  UPLOAD_COMMIT: {
    type: 0x22,
    request: [
      ['transferId', 'u32'],
      ['fileHash', 'h64'],
      ['verify', 'u8'],
    ],
    reply: [['sizeBytes', 'u64']],
  },
  /** keepJournal 1: leave the partial upload resumable; 0: remove it. */
  TRANSFER_ABORT: {
    type: 0x23,
    request: [
      ['transferId', 'u32'],
      ['keepJournal', 'u8'],
    ],
    reply: [],
  },

  // --- append sequences ---
  APPEND_BEGIN: {
    type: 0x24,
    request: [
      ['fileMode', 'u32'],
      ['sourceTag', 'h64'],
      ['resume', 'u8'],
      ['name', 'str'],
    ],
    reply: [
      ['transferId', 'u32'],
      ['nextSeq', 'u64'],
      ['sizeBytes', 'u64'],
      ['resumed', 'u8'],
    ],
  },
  APPEND_DATA: {
    type: 0x25,
    request: [
      ['transferId', 'u32'],
      ['seq', 'u64'],
      ['hash', 'h64'],
      ['data', 'bytes'],
    ],
    reply: [],
  },
  APPEND_COMMIT: {
    type: 0x26,
    request: [
      ['transferId', 'u32'],
      ['sizeBytes', 'u64'],
      ['fileHash', 'h64'],
      ['verify', 'u8'],
    ],
    reply: [['sizeBytes', 'u64']],
  },

  /**
   * Several whole small files in one message (file-batch.ts: the `files` records, at most
   * FILE_BATCH_MAX_FILES and FILE_BATCH_MAX_BYTES). Each is checked, written, made durable and
   * published under its name before the reply; `statuses` holds one u8 per file in request order
   * (1 committed, 0 not), `committed` their count, and errorCode/errorMessage the first failure
   * ('' when none). Servers from before answer UNKNOWN_REQUEST: send the files one by one.
   */
  UPLOAD_FILES: {
    type: 0x27,
    request: [['files', 'bytes']],
    reply: [
      ['committed', 'u32'],
      ['errorCode', 'str'],
      ['errorMessage', 'str'],
      ['statuses', 'bytes'],
    ],
  },

  // --- downloads ---
  /** Reply `mode`: the file's permission bits (mode & 0o777), for the local copy. */
  DOWNLOAD_OPEN: {
    type: 0x30,
    request: [['name', 'str']],
    reply: [
      ['transferId', 'u32'],
      ['sizeBytes', 'u64'],
      ['mtimeMs', 'f64'],
      ['mode', 'u32'],
    ],
  },
  /** Reply: the block's xxhash64, then the data (see block.ts). */
  DOWNLOAD_READ: {
    type: 0x31,
    request: [
      ['transferId', 'u32'],
      ['offset', 'u64'],
      ['length', 'u32'],
    ],
    reply: [
      ['hash', 'h64'],
      ['data', 'bytes'],
    ],
  },
  /** verify 0: the client does not want the whole-file hash (reply fileHash 0). */
  DOWNLOAD_CLOSE: {
    type: 0x32,
    request: [
      ['transferId', 'u32'],
      ['verify', 'u8'],
    ],
    reply: [['fileHash', 'h64']],
  },

  /**
   * Several whole small files in one reply: `names` (file-batch.ts: a name list, at most
   * FILE_BATCH_MAX_FILES) asks for them; `files` answers with their records (name, mode, times,
   * xxhash64, bytes) in request order, within FILE_BATCH_MAX_BYTES. When it stops before the end,
   * errorCode/errorMessage say why the next file was not sent ('' when all were); the client fetches
   * the rest on their own. Servers from before answer UNKNOWN_REQUEST.
   */
  DOWNLOAD_FILES: {
    type: 0x33,
    request: [['names', 'bytes']],
    reply: [
      ['errorCode', 'str'],
      ['errorMessage', 'str'],
      ['files', 'bytes'],
    ],
  },

  // --- block devices ---
  /** Reply `devices`: see list-codec.ts. */
  BD_LIST: { type: 0x40, request: [], reply: [['devices', 'bytes']] },
  BD_OPEN: {
    type: 0x41,
    request: [['name', 'str']],
    reply: [
      ['device', 'u32'],
      ['sizeBytes', 'u64'],
      ['blockBytes', 'u32'],
      ['readOnly', 'u8'],
    ],
  },
  BD_READ: {
    type: 0x42,
    request: [
      ['device', 'u32'],
      ['offset', 'u64'],
      ['length', 'u32'],
    ],
    reply: [['data', 'bytes']],
  },
  BD_WRITE: {
    type: 0x43,
    request: [
      ['device', 'u32'],
      ['offset', 'u64'],
      ['data', 'bytes'],
    ],
    reply: [],
  },
  BD_FLUSH: { type: 0x44, request: [['device', 'u32']], reply: [] },
  BD_TRIM: {
    type: 0x45,
    request: [
      ['device', 'u32'],
      ['offset', 'u64'],
      ['length', 'u64'],
    ],
    reply: [],
  },
  BD_ZERO: {
    type: 0x46,
    request: [
      ['device', 'u32'],
      ['offset', 'u64'],
      ['length', 'u64'],
    ],
    reply: [],
  },
  /** Reply `extents`: see list-codec.ts. */
  BD_EXTENTS: {
    type: 0x47,
    request: [
      ['device', 'u32'],
      ['offset', 'u64'],
      ['length', 'u64'],
    ],
    reply: [['extents', 'bytes']],
  },
  BD_CLOSE: { type: 0x48, request: [['device', 'u32']], reply: [] },
} as const satisfies Record<string, { type: number; request: FieldList; reply: FieldList }>;

export type MessageName = keyof typeof MESSAGES;
export type RequestOf<N extends MessageName> = FieldsOf<(typeof MESSAGES)[N]['request']>;
export type ReplyOf<N extends MessageName> = FieldsOf<(typeof MESSAGES)[N]['reply']>;

interface Compiled {
  name: MessageName;
  type: number;
  request: Layout;
  reply: Layout;
}

const BY_NAME = new Map<MessageName, Compiled>();
const BY_TYPE = new Map<number, Compiled>();
for (const name of Object.keys(MESSAGES) as MessageName[]) {
  const def = MESSAGES[name];
  const c: Compiled = { name, type: def.type, request: layoutOf(def.request), reply: layoutOf(def.reply) };
  const typeNumber: number = def.type;
  if (BY_TYPE.has(typeNumber) || typeNumber >= REPLY_BIT || typeNumber === 0) {
    throw new FerryError('INTERNAL', `message type 0x${def.type.toString(16)} reused or out of range`);
  }
  BY_NAME.set(name, c);
  BY_TYPE.set(def.type, c);
}

function compiled(name: MessageName): Compiled {
  return BY_NAME.get(name)!;
}

/** The message name of a request type number, or undefined for an unknown type. */
export function messageNameOf(type: number): MessageName | undefined {
  return BY_TYPE.get(type & ~REPLY_BIT)?.name;
}

/** The request and reply offset tables of a message (for docs and tests). */
export function layoutsOf(name: MessageName): { type: number; request: Layout; reply: Layout } {
  const c = compiled(name);
  return { type: c.type, request: c.request, reply: c.reply };
}

/** Encodes a request into a new buffer. */
export function encodeRequest<N extends MessageName>(
  name: N,
  requestId: number,
  fields: RequestOf<N>,
  flags = 0,
): Buffer {
  const c = compiled(name);
  const values = fields as Record<string, unknown>;
  const buf = Buffer.allocUnsafe(encodedSize(c.request, values));
  writeHeader(buf, c.type, flags, STATUS_OK, requestId);
  encodeBody(c.request, values, buf);
  return buf;
}

/** Decodes a request body (header already checked). Throws MALFORMED. */
export function decodeRequest<N extends MessageName>(name: N, buf: Buffer): RequestOf<N> {
  return decodeBody(compiled(name).request, buf) as RequestOf<N>;
}

/** Encodes an OK reply into a new buffer. */
export function encodeReply<N extends MessageName>(name: N, requestId: number, fields: ReplyOf<N>): Buffer {
  const c = compiled(name);
  const values = fields as Record<string, unknown>;
  const buf = Buffer.allocUnsafe(encodedSize(c.reply, values));
  writeHeader(buf, c.type | REPLY_BIT, 0, STATUS_OK, requestId);
  encodeBody(c.reply, values, buf);
  return buf;
}

/** Decodes an OK reply body. Throws MALFORMED. */
export function decodeReply<N extends MessageName>(name: N, buf: Buffer): ReplyOf<N> {
  return decodeBody(compiled(name).reply, buf) as ReplyOf<N>;
}

const LEGACY_LIST_REQUEST = layoutOf([
  ['limit', 'u32'],
  ['includeHidden', 'u8'],
  ['cursor', 'str'],
]);

/**
 * Decodes a LIST request, also in its layout before prefix and delimiter (limit, includeHidden,
 * cursor), which lists every name. The two layouts cannot be confused: the older one is exactly
 * two u16 lengths short of the newer one's smallest form. Throws MALFORMED.
 */
export function decodeListRequest(buf: Buffer): RequestOf<'LIST'> {
  try {
    return decodeRequest('LIST', buf);
  } catch (newError) {
    try {
      const old = decodeBody(LEGACY_LIST_REQUEST, buf) as Omit<RequestOf<'LIST'>, 'prefix' | 'delimiter'>;
      return { ...old, prefix: '', delimiter: '' };
    } catch {
      throw newError;
    }
  }
}

/**
 * Request header flag: "answer in the extended reply layout". Replies that gained trailing fields
 * (STATFS: partUploads, partBytes; DOWNLOAD_OPEN: mode) are sent in their full layout only to a
 * request with this flag; without it (a client from before) the reply keeps its earlier layout,
 * which an older client decodes. A server from before ignores the flag and answers the earlier
 * layout, which decodeReply accepts too (the added fields are then absent: undefined).
 */
export const REQUEST_FLAG_EXTENDED_REPLY = 0x01;

/** Reply fields added after a message was first shipped (absent in replies from servers before). */
type AddedReplyField = 'mode' | 'partUploads' | 'partBytes';

/** A reply as any server version sends it: the added fields may be missing. */
export type ReplyFromAnyServer<N extends MessageName> = Omit<ReplyOf<N>, AddedReplyField> &
  Partial<Pick<ReplyOf<N>, Extract<keyof ReplyOf<N>, AddedReplyField>>>;

/** The reply layouts before fields were added at their end, by message. */
const EARLIER_REPLIES: Partial<Record<MessageName, { layout: Layout; added: readonly string[] }>> = {
  STATFS: earlierReply('STATFS', ['partUploads', 'partBytes']),
  DOWNLOAD_OPEN: earlierReply('DOWNLOAD_OPEN', ['mode']),
};

function earlierReply(
  name: MessageName,
  added: readonly string[],
): { layout: Layout; added: readonly string[] } {
  const fields = (MESSAGES[name].reply as FieldList).filter(([n]) => !added.includes(n));
  return { layout: layoutOf(fields), added };
}

/**
 * Encodes an OK reply in the layout the request asked for: the full one when its header carried
 * REQUEST_FLAG_EXTENDED_REPLY (or the message never changed), else the earlier one.
 */
export function encodeReplyFor<N extends MessageName>(
  name: N,
  requestFlags: number,
  requestId: number,
  fields: ReplyOf<N>,
): Buffer {
  const earlier = EARLIER_REPLIES[name];
  if (!earlier || (requestFlags & REQUEST_FLAG_EXTENDED_REPLY) !== 0)
    return encodeReply(name, requestId, fields);
  const values = fields as Record<string, unknown>;
  const buf = Buffer.allocUnsafe(encodedSize(earlier.layout, values));
  writeHeader(buf, MESSAGES[name].type | REPLY_BIT, 0, STATUS_OK, requestId);
  encodeBody(earlier.layout, values, buf);
  return buf;
}

/**
 * Decodes an OK reply in its full layout or, for a message whose reply gained fields, the earlier
 * one (a server from before); the added fields are then undefined. Throws MALFORMED.
 */
export function decodeReplyAnyLayout<N extends MessageName>(name: N, buf: Buffer): ReplyFromAnyServer<N> {
  try {
    return decodeReply(name, buf) as unknown as ReplyFromAnyServer<N>;
  } catch (fullError) {
    const earlier = EARLIER_REPLIES[name];
    if (!earlier) throw fullError;
    try {
      return decodeBody(earlier.layout, buf) as unknown as ReplyFromAnyServer<N>;
    } catch {
      throw fullError;
    }
  }
}

const ERROR_LAYOUT = layoutOf([
  ['code', 'str'],
  ['message', 'str'],
]);
/** Longest error message sent on the wire (longer ones are cut). */
export const MAX_ERROR_MESSAGE_CHARS = 1000;

/** Encodes an error reply to a request of type `type` (any byte: unknown types get answers too). */
export function encodeErrorReply(type: number, requestId: number, code: string, message: string): Buffer {
  const values = { code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
  const buf = Buffer.allocUnsafe(encodedSize(ERROR_LAYOUT, values));
  writeHeader(buf, (type | REPLY_BIT) & 0xff, 0, STATUS_ERROR, requestId);
  encodeBody(ERROR_LAYOUT, values, buf);
  return buf;
}

/** Decodes an error reply body into its code and message. Throws MALFORMED. */
export function decodeErrorReply(buf: Buffer): { code: string; message: string } {
  return decodeBody(ERROR_LAYOUT, buf) as { code: string; message: string };
}

export { HEADER_BYTES };
