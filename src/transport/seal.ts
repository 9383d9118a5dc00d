/**
 * The one seal step every outgoing datagram passes and the one open step every incoming one passes.
 *
 * Why one place: per-packet protection is a property of the link, not of the packer or the endpoint.
 * A session with encryption on (the default) seals with its AEAD (crypto/packet-aead.ts): the header
 * and SACK ranges authenticated, the body encrypted, the tag appended; its received packets are
 * opened (tag checked, replay window consulted) before any field past the demultiplexing header (type,
 * connection id, packet number) is read. The handshake packets, RESET, and the packets of a session
 * with encryption off carry the xxhash32 checksum of the whole datagram instead
 * (wire/packet-codec.ts), checked as part of decoding. Control packets built by `encodePacket`
 * (handshake, reset) are checksummed when encoded.
 */
import { LIMITS } from '../core/limits.js';
import { PacketView, sealGathered, sealPacket, type DecodeStatus } from '../wire/packet-codec.js';
import {
  AEAD_TAG_BYTES,
  CONNECTION_ID_OFFSET,
  HEADER_BYTES,
  MAGIC,
  MAGIC_OFFSET,
  PACKET_NUMBER_OFFSET,
  PacketType,
  SACK_COUNT_OFFSET,
  SACK_RANGE_BYTES,
  TYPE_OFFSET,
  VERSION,
  VERSION_OFFSET,
} from '../wire/packet-layout.js';
import { readU64 } from '../wire/packet-codec.js';
import type { PacketOpener, PacketSealer } from './crypto/packet-aead.js';

/** Why a received datagram was refused; each maps to a drop counter. */
export type OpenStatus = DecodeStatus | 'badSeal' | 'replayed';

/**
 * Seals `buf[0, length)` followed by `slices[0, sliceCount)`. Without a sealer: the checksum, in
 * place, the slices left where they are (returns `length`). With one: the body and the slices are
 * encrypted into `buf` after the header and the tag appended (returns the datagram's whole length;
 * the caller then sends `buf` alone). No allocation beyond what node:crypto makes per packet.
 */
export function sealDatagram(
  buf: Buffer,
  length: number,
  slices: readonly Uint8Array[] | undefined,
  sliceCount: number,
  sealer: PacketSealer | null,
): number {
  if (sealer) {
    const aad = HEADER_BYTES + buf[SACK_COUNT_OFFSET]! * SACK_RANGE_BYTES;
    return sealer.seal(buf, aad, length, slices, sliceCount);
  }
  if (sliceCount > 0) sealGathered(buf, length, slices!, sliceCount);
  else sealPacket(buf, length);
  return length;
}

/**
 * Is this datagram a ferry packet of this version with a whole header (the demultiplexing fields
 * may then be read, not trusted)? 'ok', 'malformed' or 'badVersion'.
 */
export function peekHeader(buf: Buffer): DecodeStatus {
  if (buf.length < HEADER_BYTES) return 'malformed';
  if (buf.readUInt16BE(MAGIC_OFFSET) !== MAGIC) return 'malformed';
  if (buf[VERSION_OFFSET] !== VERSION) return 'badVersion';
  return 'ok';
}

/** The type byte of a datagram `peekHeader` passed (unauthenticated). */
export function peekType(buf: Buffer): number {
  return buf[TYPE_OFFSET]!;
}

export function peekConnectionIdHigh(buf: Buffer): number {
  return buf.readUInt32BE(CONNECTION_ID_OFFSET);
}

export function peekConnectionIdLow(buf: Buffer): number {
  return buf.readUInt32BE(CONNECTION_ID_OFFSET + 4);
}

/** Packet types that are never sealed: the handshake before keys exist, and RESET. */
export function isUnsealedType(type: number): boolean {
  return (
    type === PacketType.HELLO ||
    type === PacketType.CHALLENGE ||
    type === PacketType.CONFIRM ||
    type === PacketType.REJECT ||
    type === PacketType.RESET
  );
}

/**
 * Opens and decodes one received datagram into `view` (no allocation beyond node:crypto's and one
 * view of the plaintext): with `opener`, the AEAD tag is checked (and the replay window) before
 * anything else is read; without, the checksum.
 */
export function openDatagram(view: PacketView, buf: Buffer, opener: PacketOpener | null = null): OpenStatus {
  if (!opener) return view.decode(buf);
  const sackCount = buf[SACK_COUNT_OFFSET]!;
  if (sackCount > LIMITS.MAX_SACK_RANGES) return 'malformed';
  const aad = HEADER_BYTES + sackCount * SACK_RANGE_BYTES;
  if (buf.length < aad + AEAD_TAG_BYTES) return 'malformed';
  const pn = readU64(buf, PACKET_NUMBER_OFFSET);
  if (pn < 0) return 'malformed';
  if (!opener.fresh(pn)) return 'replayed';
  if (!opener.open(buf, aad)) return 'badSeal';
  return view.decodeOpened(buf.subarray(0, buf.length - AEAD_TAG_BYTES));
}
