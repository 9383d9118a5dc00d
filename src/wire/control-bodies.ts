/**
 * Bodies of the control packets: handshake (HELLO, CHALLENGE, CONFIRM, ACCEPT, REJECT), RESET and
 * the delivered ranges of ACK.
 *
 * Why separate from packet-codec: these are read rarely (once per handshake) except the ACK body,
 * which gets a flyweight like PacketView. Sizes are fixed, so a body of any other length is refused.
 *
 * ```
 * fields     | source connection id (64) | incarnation (64) | nonce (128) | max packet bytes (32) |
 *            | flags (32: bit 0 encrypt) | X25519 public key (256) |                       (72 bytes)
 * HELLO      | client fields | zero padding to HELLO_BYTES |                              (108 bytes)
 * CHALLENGE  | server fields | cookie time bucket (32) | cookie (256) |                  (108 bytes)
 * CONFIRM    | client fields | server fields | cookie time bucket (32) | cookie (256) |
 *            | client proof (256) | sealed reset token (128 + 128 tag) |                 (256 bytes)
 * ACCEPT     | server proof (256) | sealed reset token (128 + 128 tag) |  (in a sealed packet)
 * REJECT     | the client's HELLO nonce (128) | reason (32) |
 * RESET      | token (128) |
 * HEARTBEAT, CLOSE | (empty) |
 * ACK        | delivered below (32) | range count (16) | reserved (16) | count x [ start - below (32) | length (32) ] |
 * ```
 *
 * HELLO is padded to the size of CHALLENGE, its largest answer, so an endpoint never answers a
 * datagram with a larger one (no amplification from a forged source address). The same holds for
 * CONFIRM and its answers (ACCEPT, REJECT) and for REJECT answering a HELLO.
 *
 * ACK's "delivered below" is the low 32 bits of a message sequence; the reader expands it against its
 * own window (sequence.ts). Ranges are relative to it, so they need no expansion of their own.
 */
import { LIMITS } from '../core/limits.js';
import { AEAD_TAG_BYTES } from './packet-layout.js';
import { readU64, writeU64 } from './packet-codec.js';
import { expandSeq, seqToWire } from './sequence.js';

export const NONCE_BYTES = 16;
export const PROOF_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const COOKIE_BYTES = 32;
export const RESET_TOKEN_BYTES = 16;
export const SEALED_TOKEN_BYTES = RESET_TOKEN_BYTES + AEAD_TAG_BYTES;

const SOURCE_ID_OFFSET = 0;
const INCARNATION_OFFSET = 8;
const NONCE_OFFSET = 16;
const MAX_PACKET_OFFSET = 32;
const FLAGS_OFFSET = 36;
const PUBLIC_KEY_OFFSET = 40;
/** One side's handshake fields, as HELLO, CHALLENGE and CONFIRM carry them. */
export const HANDSHAKE_FIELDS_BYTES = 72;
const FLAG_ENCRYPT = 0x1;
const KNOWN_HANDSHAKE_FLAGS = FLAG_ENCRYPT;

const CHALLENGE_BUCKET_OFFSET = HANDSHAKE_FIELDS_BYTES;
const CHALLENGE_COOKIE_OFFSET = CHALLENGE_BUCKET_OFFSET + 4;
export const CHALLENGE_BYTES = CHALLENGE_COOKIE_OFFSET + COOKIE_BYTES;
/** HELLO is padded to its largest answer (CHALLENGE). */
export const HELLO_BYTES = CHALLENGE_BYTES;

const CONFIRM_SERVER_OFFSET = HANDSHAKE_FIELDS_BYTES;
const CONFIRM_BUCKET_OFFSET = 2 * HANDSHAKE_FIELDS_BYTES;
const CONFIRM_COOKIE_OFFSET = CONFIRM_BUCKET_OFFSET + 4;
const CONFIRM_PROOF_OFFSET = CONFIRM_COOKIE_OFFSET + COOKIE_BYTES;
const CONFIRM_TOKEN_OFFSET = CONFIRM_PROOF_OFFSET + PROOF_BYTES;
export const CONFIRM_BYTES = CONFIRM_TOKEN_OFFSET + SEALED_TOKEN_BYTES;

export const ACCEPT_BYTES = PROOF_BYTES + SEALED_TOKEN_BYTES;
export const REJECT_BYTES = NONCE_BYTES + 4;
export const RESET_BYTES = RESET_TOKEN_BYTES;

/** Why a server refused a handshake (REJECT's reason). */
export const RejectReason = {
  /** The client's proof is wrong: the two sides do not share the secret. */
  BAD_PROOF: 1,
  /** The client asks for encryption and the server has it off. */
  SERVER_UNENCRYPTED: 2,
  /** The client has encryption off and the server requires it. */
  SERVER_ENCRYPTED: 3,
} as const;
export const MAX_REJECT_REASON = 3;

const ACK_DELIVERED_BELOW_OFFSET = 0;
const ACK_RANGE_COUNT_OFFSET = 4;
const ACK_RANGES_OFFSET = 8;
const ACK_RANGE_BYTES = 8;

/** What one side says of itself in the handshake (HELLO: the client; CHALLENGE: the server). */
export interface HandshakeFields {
  sourceConnectionId: bigint;
  incarnation: number;
  nonce: Buffer;
  maxPacketBytes: number;
  encrypt: boolean;
  publicKey: Buffer;
}

/** @deprecated name kept for the TCP handshake's bodies. */
export type HelloBody = HandshakeFields;

export interface ChallengeBody extends HandshakeFields {
  cookieBucket: number;
  cookie: Buffer;
}

export interface ConfirmBody {
  client: HandshakeFields;
  server: ChallengeBody;
  proof: Buffer;
  sealedToken: Buffer;
}

export interface AcceptBody {
  proof: Buffer;
  sealedToken: Buffer;
}

/** The 72-byte form of one side's fields (what the transcript hash and the cookie cover). */
export function encodeHandshakeFields(b: HandshakeFields): Buffer {
  const out = Buffer.alloc(HANDSHAKE_FIELDS_BYTES);
  writeFields(out, 0, b);
  return out;
}

export function encodeHello(b: HandshakeFields): Buffer {
  const out = Buffer.alloc(HELLO_BYTES);
  writeFields(out, 0, b);
  return out;
}

export function encodeChallenge(b: ChallengeBody): Buffer {
  const out = Buffer.alloc(CHALLENGE_BYTES);
  writeChallenge(out, 0, b);
  return out;
}

export function encodeConfirm(b: ConfirmBody): Buffer {
  const out = Buffer.alloc(CONFIRM_BYTES);
  writeFields(out, 0, b.client);
  writeChallenge(out, CONFIRM_SERVER_OFFSET, b.server);
  b.proof.copy(out, CONFIRM_PROOF_OFFSET, 0, PROOF_BYTES);
  b.sealedToken.copy(out, CONFIRM_TOKEN_OFFSET, 0, SEALED_TOKEN_BYTES);
  return out;
}

export function encodeAccept(b: AcceptBody): Buffer {
  const out = Buffer.alloc(ACCEPT_BYTES);
  b.proof.copy(out, 0, 0, PROOF_BYTES);
  b.sealedToken.copy(out, PROOF_BYTES, 0, SEALED_TOKEN_BYTES);
  return out;
}

export function encodeReject(clientNonce: Buffer, reason: number): Buffer {
  const out = Buffer.alloc(REJECT_BYTES);
  clientNonce.copy(out, 0, 0, NONCE_BYTES);
  out.writeUInt32BE(reason, NONCE_BYTES);
  return out;
}

function writeFields(out: Buffer, at: number, b: HandshakeFields): void {
  out.writeBigUInt64BE(b.sourceConnectionId, at + SOURCE_ID_OFFSET);
  writeU64(out, at + INCARNATION_OFFSET, b.incarnation);
  b.nonce.copy(out, at + NONCE_OFFSET, 0, NONCE_BYTES);
  out.writeUInt32BE(b.maxPacketBytes, at + MAX_PACKET_OFFSET);
  out.writeUInt32BE(b.encrypt ? FLAG_ENCRYPT : 0, at + FLAGS_OFFSET);
  b.publicKey.copy(out, at + PUBLIC_KEY_OFFSET, 0, PUBLIC_KEY_BYTES);
}

function writeChallenge(out: Buffer, at: number, b: ChallengeBody): void {
  writeFields(out, at, b);
  out.writeUInt32BE(b.cookieBucket >>> 0, at + CHALLENGE_BUCKET_OFFSET);
  b.cookie.copy(out, at + CHALLENGE_COOKIE_OFFSET, 0, COOKIE_BYTES);
}

/** The fields of their 72-byte form (which `encodeHandshakeFields` made); throws when malformed. */
export function decodeHandshakeFields(b: Buffer): HandshakeFields {
  const f = b.length === HANDSHAKE_FIELDS_BYTES ? readFields(b, 0) : null;
  if (!f) throw new RangeError('malformed handshake fields');
  return f;
}

/** Returns null when the body has the wrong size, out-of-range values or non-zero padding. */
export function decodeHello(body: Buffer): HandshakeFields | null {
  if (body.length !== HELLO_BYTES) return null;
  for (let i = HANDSHAKE_FIELDS_BYTES; i < HELLO_BYTES; i++) if (body[i] !== 0) return null;
  return readFields(body, 0);
}

export function decodeChallenge(body: Buffer): ChallengeBody | null {
  if (body.length !== CHALLENGE_BYTES) return null;
  return readChallenge(body, 0);
}

export function decodeConfirm(body: Buffer): ConfirmBody | null {
  if (body.length !== CONFIRM_BYTES) return null;
  const client = readFields(body, 0);
  const server = readChallenge(body, CONFIRM_SERVER_OFFSET);
  if (!client || !server) return null;
  return {
    client,
    server,
    proof: Buffer.from(body.subarray(CONFIRM_PROOF_OFFSET, CONFIRM_PROOF_OFFSET + PROOF_BYTES)),
    sealedToken: Buffer.from(body.subarray(CONFIRM_TOKEN_OFFSET, CONFIRM_BYTES)),
  };
}

export function decodeAccept(body: Buffer): AcceptBody | null {
  if (body.length !== ACCEPT_BYTES) return null;
  return {
    proof: Buffer.from(body.subarray(0, PROOF_BYTES)),
    sealedToken: Buffer.from(body.subarray(PROOF_BYTES, ACCEPT_BYTES)),
  };
}

export function decodeReject(body: Buffer): { clientNonce: Buffer; reason: number } | null {
  if (body.length !== REJECT_BYTES) return null;
  const reason = body.readUInt32BE(NONCE_BYTES);
  if (reason < 1 || reason > MAX_REJECT_REASON) return null;
  return { clientNonce: Buffer.from(body.subarray(0, NONCE_BYTES)), reason };
}

function readChallenge(body: Buffer, at: number): ChallengeBody | null {
  const fields = readFields(body, at);
  if (!fields) return null;
  const cookieAt = at + CHALLENGE_COOKIE_OFFSET;
  return {
    ...fields,
    cookieBucket: body.readUInt32BE(at + CHALLENGE_BUCKET_OFFSET),
    cookie: Buffer.from(body.subarray(cookieAt, cookieAt + COOKIE_BYTES)),
  };
}

function readFields(body: Buffer, at: number): HandshakeFields | null {
  const sourceConnectionId = body.readBigUInt64BE(at + SOURCE_ID_OFFSET);
  const incarnation = readU64(body, at + INCARNATION_OFFSET);
  const maxPacketBytes = body.readUInt32BE(at + MAX_PACKET_OFFSET);
  const flags = body.readUInt32BE(at + FLAGS_OFFSET);
  if (sourceConnectionId === 0n || incarnation < 0) return null;
  if (maxPacketBytes < LIMITS.MIN_PACKET_BYTES || maxPacketBytes > LIMITS.MAX_PACKET_BYTES) return null;
  if ((flags & ~KNOWN_HANDSHAKE_FLAGS) !== 0) return null;
  const nonceAt = at + NONCE_OFFSET;
  const keyAt = at + PUBLIC_KEY_OFFSET;
  return {
    sourceConnectionId,
    incarnation,
    nonce: Buffer.from(body.subarray(nonceAt, nonceAt + NONCE_BYTES)),
    maxPacketBytes,
    encrypt: (flags & FLAG_ENCRYPT) !== 0,
    publicKey: Buffer.from(body.subarray(keyAt, keyAt + PUBLIC_KEY_BYTES)),
  };
}

/** RESET carries exactly one token. */
export function decodeResetToken(body: Buffer): Buffer | null {
  return body.length === RESET_TOKEN_BYTES ? Buffer.from(body) : null;
}

/** Bytes of an ACK body with `rangeCount` delivered ranges. */
export function ackBodyBytes(rangeCount: number): number {
  return ACK_RANGES_OFFSET + rangeCount * ACK_RANGE_BYTES;
}

/**
 * Writes an ACK body at `at`; ranges are absolute [start, length) message sequences above `below`
 * (full numbers: `below` goes as its low 32 bits, the ranges as offsets from it).
 */
export function writeAckBody(
  buf: Buffer,
  at: number,
  deliveredBelow: number,
  starts: ArrayLike<number>,
  lengths: ArrayLike<number>,
  count: number,
): number {
  buf.writeUInt32BE(seqToWire(deliveredBelow), at + ACK_DELIVERED_BELOW_OFFSET);
  buf.writeUInt16BE(count, at + ACK_RANGE_COUNT_OFFSET);
  buf.writeUInt16BE(0, at + ACK_RANGE_COUNT_OFFSET + 2);
  for (let i = 0; i < count; i++) {
    const r = at + ACK_RANGES_OFFSET + i * ACK_RANGE_BYTES;
    buf.writeUInt32BE((starts[i]! - deliveredBelow) >>> 0, r);
    buf.writeUInt32BE(lengths[i]! >>> 0, r + 4);
  }
  return at + ackBodyBytes(count);
}

/**
 * Delivered-message report of an ACK, decoded into a reusable object: every message sequence below
 * `deliveredBelow` was delivered, and so was each range above it (full sequences, expanded).
 */
export class AckBodyView {
  deliveredBelow = 0;
  rangeCount = 0;
  readonly rangeStart = new Float64Array(LIMITS.MAX_SACK_RANGES);
  readonly rangeLength = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  /**
   * Reads the body at `buf[offset, offset + length)` without copying; `nearSeq` is a message sequence
   * the reader knows is close to the report's (the sender: its oldest undelivered message), against
   * which the 32-bit "delivered below" is expanded. False when malformed (counts, overlaps, sizes).
   */
  decode(buf: Buffer, offset: number, length: number, nearSeq: number): boolean {
    if (length < ACK_RANGES_OFFSET) return false;
    const below = expandSeq(buf.readUInt32BE(offset + ACK_DELIVERED_BELOW_OFFSET), nearSeq);
    const count = buf.readUInt16BE(offset + ACK_RANGE_COUNT_OFFSET);
    if (count > LIMITS.MAX_SACK_RANGES || length !== ackBodyBytes(count)) return false;
    let floor = 0; // offsets from `below`: ascending, disjoint, within 32 bits
    for (let i = 0; i < count; i++) {
      const r = offset + ACK_RANGES_OFFSET + i * ACK_RANGE_BYTES;
      const delta = buf.readUInt32BE(r);
      const len = buf.readUInt32BE(r + 4);
      if (delta <= floor || len === 0 || delta + len > 0xffff_ffff) return false;
      this.rangeStart[i] = below + delta;
      this.rangeLength[i] = len;
      floor = delta + len;
    }
    this.deliveredBelow = below;
    this.rangeCount = count;
    return true;
  }
}
