/**
 * The one seal step every outgoing datagram passes and the one open step every incoming one passes.
 *
 * Why one place: per-packet protection is a property of the link, not of the packer or the endpoint.
 * Today the seal is the xxhash32 checksum of the whole datagram (wire/packet-codec.ts: header, SACK
 * ranges, records and gathered payload slices alike) and the open step checks it as part of decoding.
 * An AEAD under per-session keys replaces both here (the seal then also encrypts in place and appends
 * its tag; the open step authenticates before any field is trusted) without touching the session's
 * packet building or the receive path's demultiplexing. Control packets built by `encodePacket`
 * (handshake, reset) are sealed when encoded.
 */
import { PacketView, sealGathered, sealPacket, type DecodeStatus } from '../wire/packet-codec.js';

/** Seals `buf[0, length)` followed by `slices[0, sliceCount)` in place (no allocation). */
export function sealDatagram(
  buf: Buffer,
  length: number,
  slices: readonly Uint8Array[] | undefined,
  sliceCount: number,
): void {
  if (sliceCount > 0) sealGathered(buf, length, slices!, sliceCount);
  else sealPacket(buf, length);
}

/** Opens (checks the seal of) and decodes one received datagram into `view` (no allocation). */
export function openDatagram(view: PacketView, buf: Buffer): DecodeStatus {
  return view.decode(buf);
}
