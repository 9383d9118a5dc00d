/**
 * The link: the seam between a session and the wire. A session builds its packets; a link carries
 * them. Drawn in docs/architecture.md (the transport section).
 *
 * Why an interface here: the next capabilities plug in at this point, not in the session.
 * - A batched native socket (sendmmsg + GSO out, recvmmsg + GRO in): `send` may only queue a
 *   datagram into the current batch, `flush` hands the batch to the kernel in one call; received
 *   datagrams come up one `DatagramSink.onDatagram` call each, as views into one receive slab
 *   (valid for the call: whatever must outlive it is copied, as the inbox already does for
 *   fragments).
 * - Sockets in worker threads: a link and the sessions it serves live in one thread; nothing in the
 *   session core or here is global (clock, config and link are handed in).
 * - Per-packet encryption: every datagram a link sends passes the one seal step and every one it
 *   receives the one open step of seal.ts.
 *
 * The UDP link (udp/link.ts) implements it over node:dgram; tests drive a session over a fake link
 * (test/unit/transport/fake-link.ts). The hot path calls it directly on the one concrete class in use,
 * so the interface costs nothing per packet.
 */
import type { PacketSealer } from './crypto/packet-aead.js';
import type { PeerAddress, PeerStats } from './types.js';

/** What a datagram session sends through. */
export interface DatagramLink {
  /** A buffer of at least the configured packet size to build a packet in, or null (pool empty). */
  acquire(): Buffer | null;
  /** Returns a buffer that was not sent. */
  release(buf: Buffer): void;
  /**
   * Seals and sends `buf[0, length)` followed by `slices[0, sliceCount)` to `to` (the buffer is the
   * link's again; the slices stay their message's), counting it in `stats`. With `sealer` (the
   * session's AEAD) the body and slices are encrypted into `buf`, which needs AEAD_TAG_BYTES of room
   * past them; without, the datagram gets its checksum.
   */
  send(
    stats: PeerStats,
    to: PeerAddress,
    buf: Buffer,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
    sealer: PacketSealer | null,
  ): void;
  /** Sends an already sealed control packet (handshake) of a session. */
  sendControl(stats: PeerStats, to: PeerAddress, packet: Buffer): void;
  /** The end of a batch of sends (a flush or a turn's end): a batching link hands them over now. */
  flush(): void;
}

/** Where a link hands received datagrams (a view valid for the call), one call per datagram. */
export interface DatagramSink {
  onDatagram(datagram: Buffer, fromHost: string, fromPort: number): void;
}
