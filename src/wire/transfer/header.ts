/**
 * The 8-byte header every transfer message starts with, requests and replies alike.
 *
 * Why: the transfer RPC runs many requests at once over one session and completes them out of
 * order, so each message names its request id; the reply repeats it with the request type's high
 * bit set and a status byte, so a client matches replies to requests without any other state.
 *
 * ```
 *  0        1        2        3        4                                   8
 *  +--------+--------+--------+--------+--------+--------+--------+--------+
 *  |  type  | version| flags  | status |        requestId (u32 LE)         |
 *  +--------+--------+--------+--------+--------+--------+--------+--------+
 * ```
 * - type: a request type (0x01..0x7f) or, in a reply, `0x80 | requestType`.
 * - version: TRANSFER_WIRE_VERSION; anything else is refused with UNSUPPORTED_VERSION.
 * - flags: per-type bits (see messages.ts); 0 when unused.
 * - status: replies only: 0 = OK (the body is the reply's fields), 1 = error (the body is an error
 *   code string and a message string). 0 in requests.
 * All multi-byte integers in transfer messages are little-endian.
 */
import { FerryError } from '../../core/errors.js';

export const TRANSFER_WIRE_VERSION = 1;

export const HEADER_BYTES = 8;
export const OFF_TYPE = 0;
export const OFF_VERSION = 1;
export const OFF_FLAGS = 2;
export const OFF_STATUS = 3;
export const OFF_REQUEST_ID = 4;

export const REPLY_BIT = 0x80;
export const STATUS_OK = 0;
export const STATUS_ERROR = 1;

export interface MessageHeader {
  type: number;
  flags: number;
  status: number;
  requestId: number;
}

/** Writes the header at the start of `buf` (at least HEADER_BYTES long). */
export function writeHeader(
  buf: Uint8Array,
  type: number,
  flags: number,
  status: number,
  requestId: number,
): void {
  buf[OFF_TYPE] = type;
  buf[OFF_VERSION] = TRANSFER_WIRE_VERSION;
  buf[OFF_FLAGS] = flags;
  buf[OFF_STATUS] = status;
  const id = requestId >>> 0;
  buf[OFF_REQUEST_ID] = id & 0xff;
  buf[OFF_REQUEST_ID + 1] = (id >>> 8) & 0xff;
  buf[OFF_REQUEST_ID + 2] = (id >>> 16) & 0xff;
  buf[OFF_REQUEST_ID + 3] = id >>> 24;
}

/** Reads and checks the header; throws MALFORMED or UNSUPPORTED_VERSION. */
export function readHeader(buf: Uint8Array, out: MessageHeader): MessageHeader {
  if (buf.length < HEADER_BYTES) {
    throw new FerryError('MALFORMED', `transfer message of ${buf.length} bytes is shorter than its header`);
  }
  if (buf[OFF_VERSION] !== TRANSFER_WIRE_VERSION) {
    throw new FerryError(
      'UNSUPPORTED_VERSION',
      `transfer message version ${buf[OFF_VERSION]}, this ferry speaks ${TRANSFER_WIRE_VERSION}: use the same ferry version on both sides`,
    );
  }
  out.type = buf[OFF_TYPE]!;
  out.flags = buf[OFF_FLAGS]!;
  out.status = buf[OFF_STATUS]!;
  out.requestId = requestIdOf(buf);
  return out;
}

/** The request id of a message, or -1 if it is too short to carry one (never throws). */
export function peekRequestId(buf: Uint8Array): number {
  if (buf.length < HEADER_BYTES) return -1;
  return requestIdOf(buf);
}

/** The little-endian request id of a header, read from its bytes (no DataView per message). */
function requestIdOf(buf: Uint8Array): number {
  return (
    (buf[OFF_REQUEST_ID]! |
      (buf[OFF_REQUEST_ID + 1]! << 8) |
      (buf[OFF_REQUEST_ID + 2]! << 16) |
      (buf[OFF_REQUEST_ID + 3]! << 24)) >>>
    0
  );
}
