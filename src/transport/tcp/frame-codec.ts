/**
 * Encoding and decoding of TCP frames (layout in frame-layout.ts): the 16-byte header written into a
 * caller's buffer, and the handshake, DELIVERED and CLOSE bodies.
 *
 * Why headers are written in place: a DATA frame goes out as its header plus the caller's payload
 * pieces (scatter-gather), so the encoder only ever fills 16 bytes the sender handed it; it never
 * builds a frame by concatenation. Body decoders refuse any size or value the layout does not allow
 * and return null, never throw: frames come from the network.
 */
import { readU64, writeU64 } from '../../wire/packet-codec.js';
import {
  CLOSE_BODY_BYTES,
  DELIVERED_RANGE_BYTES,
  DELIVERED_RANGE_COUNT_OFFSET,
  DELIVERED_RANGE_START_OFFSET,
  FLAGS_OFFSET,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  HELLO_BODY_BYTES,
  HELLO_CONNECTION_ID_OFFSET,
  HELLO_FLAG_ENCRYPT,
  HELLO_FLAGS_OFFSET,
  HELLO_PUBLIC_KEY_OFFSET,
  HELLO_INCARNATION_OFFSET,
  HELLO_LISTEN_PORT_OFFSET,
  HELLO_NONCE_OFFSET,
  HELLO_VERSION_OFFSET,
  LENGTH_OFFSET,
  MAGIC_OFFSET,
  MAX_CLOSE_REASON,
  MAX_DELIVERED_RANGES,
  NONCE_BYTES,
  PROOF_BYTES,
  PROTOCOL_VERSION,
  PUBLIC_KEY_BYTES,
  SEQ_OFFSET,
  TYPE_OFFSET,
} from './frame-layout.js';

/** Writes a frame header at `at` in `buf`; returns the offset just after it. */
export function writeFrameHeader(
  buf: Buffer,
  at: number,
  type: number,
  flags: number,
  bodyBytes: number,
  seq: number,
): number {
  buf.writeUInt16BE(FRAME_MAGIC, at + MAGIC_OFFSET);
  buf[at + TYPE_OFFSET] = type;
  buf[at + FLAGS_OFFSET] = flags;
  buf.writeUInt32BE(bodyBytes, at + LENGTH_OFFSET);
  writeU64(buf, at + SEQ_OFFSET, seq);
  return at + FRAME_HEADER_BYTES;
}

/** A whole frame in one new buffer (control frames, rare: the handshake and CLOSE). */
export function encodeFrame(type: number, flags: number, seq: number, body?: Buffer): Buffer {
  const bodyBytes = body?.length ?? 0;
  const out = Buffer.alloc(FRAME_HEADER_BYTES + bodyBytes);
  writeFrameHeader(out, 0, type, flags, bodyBytes, seq);
  if (body) body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** What HELLO carries (and CHALLENGE: the same fields, the server's). */
export interface TcpHello {
  version: number;
  /** The sender's listening port: with its source address it names the peer (`host:port`). */
  listenPort: number;
  connectionId: bigint;
  incarnation: number;
  nonce: Buffer;
  /** The sender seals its frames (both sides must agree). */
  encrypt: boolean;
  /** The sender's X25519 public key for this handshake. */
  publicKey: Buffer;
}

/** CHALLENGE carries the server's fields and no proof: the client proves first. */
export type TcpChallenge = TcpHello;

function writeHelloFields(out: Buffer, h: TcpHello): void {
  out[HELLO_VERSION_OFFSET] = h.version;
  out[HELLO_FLAGS_OFFSET] = h.encrypt ? HELLO_FLAG_ENCRYPT : 0;
  out.writeUInt16BE(h.listenPort, HELLO_LISTEN_PORT_OFFSET);
  out.writeBigUInt64BE(h.connectionId, HELLO_CONNECTION_ID_OFFSET);
  writeU64(out, HELLO_INCARNATION_OFFSET, h.incarnation);
  h.nonce.copy(out, HELLO_NONCE_OFFSET, 0, NONCE_BYTES);
  h.publicKey.copy(out, HELLO_PUBLIC_KEY_OFFSET, 0, PUBLIC_KEY_BYTES);
}

export function encodeHelloBody(h: TcpHello): Buffer {
  const out = Buffer.alloc(HELLO_BODY_BYTES);
  writeHelloFields(out, h);
  return out;
}

export const encodeChallengeBody = encodeHelloBody;

function readHelloFields(body: Buffer): TcpHello | null {
  const version = body[HELLO_VERSION_OFFSET]!;
  const flags = body[HELLO_FLAGS_OFFSET]!;
  const listenPort = body.readUInt16BE(HELLO_LISTEN_PORT_OFFSET);
  const connectionId = body.readBigUInt64BE(HELLO_CONNECTION_ID_OFFSET);
  const incarnation = readU64(body, HELLO_INCARNATION_OFFSET);
  if (version !== PROTOCOL_VERSION || listenPort === 0 || connectionId === 0n || incarnation < 0) return null;
  if ((flags & ~HELLO_FLAG_ENCRYPT) !== 0) return null;
  const nonce = Buffer.from(body.subarray(HELLO_NONCE_OFFSET, HELLO_NONCE_OFFSET + NONCE_BYTES));
  const publicKey = Buffer.from(
    body.subarray(HELLO_PUBLIC_KEY_OFFSET, HELLO_PUBLIC_KEY_OFFSET + PUBLIC_KEY_BYTES),
  );
  return { version, listenPort, connectionId, incarnation, nonce, encrypt: flags !== 0, publicKey };
}

/** Null when the body has the wrong size, another protocol version or out-of-range values. */
export function decodeHelloBody(body: Buffer): TcpHello | null {
  return body.length === HELLO_BODY_BYTES ? readHelloFields(body) : null;
}

export const decodeChallengeBody = decodeHelloBody;

/** CONFIRM (the client's) and ACCEPT (the server's) carry exactly one proof. */
export function decodeConfirmBody(body: Buffer): Buffer | null {
  return body.length === PROOF_BYTES ? Buffer.from(body) : null;
}

export function encodeCloseBody(reason: number): Buffer {
  return Buffer.from([reason]);
}

/** The close reason, or -1 when the body is not one known reason byte. */
export function decodeCloseBody(body: Buffer): number {
  if (body.length !== CLOSE_BODY_BYTES) return -1;
  const reason = body[0]!;
  return reason <= MAX_CLOSE_REASON ? reason : -1;
}

/** Bytes of a DELIVERED body with `count` ranges. */
export function deliveredBodyBytes(count: number): number {
  return count * DELIVERED_RANGE_BYTES;
}

/** Writes `count` delivered ranges at `at`; returns the offset after them. */
export function writeDeliveredRanges(
  buf: Buffer,
  at: number,
  starts: ArrayLike<number>,
  counts: ArrayLike<number>,
  count: number,
): number {
  for (let i = 0; i < count; i++) {
    writeU64(buf, at + DELIVERED_RANGE_START_OFFSET, starts[i]!);
    buf.writeUInt32BE(counts[i]!, at + DELIVERED_RANGE_COUNT_OFFSET);
    at += DELIVERED_RANGE_BYTES;
  }
  return at;
}

/**
 * Reads a DELIVERED body into `starts`/`counts` (each at least MAX_DELIVERED_RANGES long); returns
 * the number of ranges, or -1 when the body is malformed (size, empty range, start 0 or beyond 2^53).
 */
export function readDeliveredRanges(body: Buffer, starts: Float64Array, counts: Uint32Array): number {
  if (body.length === 0 || body.length % DELIVERED_RANGE_BYTES !== 0) return -1;
  const n = body.length / DELIVERED_RANGE_BYTES;
  if (n > MAX_DELIVERED_RANGES) return -1;
  for (let i = 0, at = 0; i < n; i++, at += DELIVERED_RANGE_BYTES) {
    const start = readU64(body, at + DELIVERED_RANGE_START_OFFSET);
    const count = body.readUInt32BE(at + DELIVERED_RANGE_COUNT_OFFSET);
    if (start < 1 || count === 0 || start + count > Number.MAX_SAFE_INTEGER) return -1;
    starts[i] = start;
    counts[i] = count;
  }
  return n;
}
