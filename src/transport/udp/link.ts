/**
 * `UdpLink`: the UDP transport's link, everything between a session's packet and the socket: the send
 * pool, the one seal step every outgoing datagram passes, the gathered send and the return of sent
 * buffers to the pool.
 *
 * Why one object with plain methods: a session calls `acquire`, `send` and `sendControl` for every
 * packet, so they are direct calls on a concrete class (no closures, no host indirection). The link is
 * the seam the next links plug into: a batched native socket (many datagrams per call, received into a
 * slab), a socket per worker thread, and an AEAD in place of the checksum in `seal.ts`. Nothing here
 * is global: the socket, the pool size and the hook for a refilled pool are handed in.
 */
import type dgram from 'node:dgram';
import { BufferPool } from '../../core/pool.js';
import type { DatagramLink } from '../link.js';
import type { PeerStats, PeerAddress } from '../types.js';
import type { PacketSealer } from '../crypto/packet-aead.js';
import { sealDatagram } from '../seal.js';
import { UdpSender } from './udp-sender.js';

/** What the link counts for its endpoint (the endpoint's own counters object). */
export interface LinkCounters {
  packetsSent: number;
  bytesSent: number;
}

export class UdpLink implements DatagramLink {
  private readonly pool: BufferPool;
  private readonly sendingBuffers: Buffer[] = [];
  private sendingHead = 0;
  private poolStarved = false;
  /** Sends a datagram as a list of buffers (header + payload slices) with the least JS per send. */
  private readonly sender: UdpSender;
  /** The list handed to the sender (reused: the sender keeps it only when libuv queues a send). */
  private readonly sendList: Uint8Array[] = [];
  closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    packetBytes: number,
    poolBytes: number,
    nativeSend: boolean,
    private readonly counters: LinkCounters,
    /** The pool was starved and is half full again: sessions waiting for buffers may go on. */
    private readonly onPoolRefilled: () => void,
  ) {
    this.pool = new BufferPool(packetBytes, Math.max(16, Math.floor(poolBytes / packetBytes)));
    this.sender = new UdpSender(socket, this.onSendDone, nativeSend);
  }

  /** A pool buffer of at least `packetBytes`, or null when the send pool is empty. */
  acquire(): Buffer | null {
    const buf = this.pool.acquire();
    if (!buf) this.poolStarved = true;
    return buf;
  }

  /** Returns a pool buffer that was not sent. */
  release(buf: Buffer): void {
    this.pool.release(buf);
  }

  /**
   * Seals and sends `buf[0, length)` to `to`, followed by `slices[0, sliceCount)` (a scatter-gather
   * send: the payload stays in the message's own buffers); the buffer goes back to the pool once the
   * socket is done with it.
   */
  send(
    stats: PeerStats,
    to: PeerAddress,
    buf: Buffer,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
    sealer: PacketSealer | null,
  ): void {
    const list = this.sendList;
    length = sealDatagram(buf, length, slices, sliceCount, sealer);
    if (sealer) sliceCount = 0; // the sealer encrypted the slices into buf
    let total = length;
    for (let i = 0; i < sliceCount; i++) {
      const slice = slices![i]!;
      list[i + 1] = slice;
      total += slice.length;
    }
    list[0] = buf.subarray(0, length);
    stats.packetsSent++;
    stats.bytesSent += total;
    this.counters.packetsSent++;
    this.counters.bytesSent += total;
    this.sendingBuffers.push(buf);
    // libuv sends at once when its queue is empty (the kernel copies the bytes before send returns);
    // a send that joins a non-empty queue holds its buffers until it completes. Sends complete in
    // order, so the queue length says how many of ours are still held. Payload slices belong to their
    // message, which keeps them until the peer has every byte.
    this.sender.send(list, sliceCount + 1, to.port, to.host);
    this.releaseSent();
  }

  /** Sends an already sealed control packet (not a pool buffer) of a session. */
  sendControl(stats: PeerStats, to: PeerAddress, packet: Buffer): void {
    stats.packetsSent++;
    stats.bytesSent += packet.length;
    this.sendRaw(packet, to);
  }

  /** Sends an already sealed packet to an address no session has (handshake replies, resets). */
  sendRaw(packet: Buffer, to: PeerAddress): void {
    if (this.closed) return;
    this.counters.packetsSent++;
    this.counters.bytesSent += packet.length;
    this.socket.send(packet, 0, packet.length, to.port, to.host);
  }

  /** Sends the socket refused with an error (udp-sender.ts). */
  get sendErrors(): number {
    return this.sender.sendErrors;
  }

  /** Each send went to the socket at once (dgram has no batch): nothing is held back. */
  flush(): void {}

  private readonly onSendDone = (): void => {
    this.releaseSent();
  };

  /** Returns to the pool every sent buffer the socket no longer holds (all but the newest queued ones). */
  releaseSent(): void {
    const held = this.closed ? 0 : this.socket.getSendQueueCount();
    while (this.sendingBuffers.length - this.sendingHead > held) {
      const buf = this.sendingBuffers[this.sendingHead]!;
      this.sendingBuffers[this.sendingHead++] = undefined as unknown as Buffer;
      this.pool.release(buf);
    }
    if (this.sendingHead === this.sendingBuffers.length) {
      this.sendingBuffers.length = 0;
      this.sendingHead = 0;
    } else if (this.sendingHead > 4096 && this.sendingHead * 2 > this.sendingBuffers.length) {
      this.sendingBuffers.splice(0, this.sendingHead);
      this.sendingHead = 0;
    }
    if (this.poolStarved && this.pool.available * 2 >= this.pool.capacity) {
      this.poolStarved = false;
      this.onPoolRefilled();
    }
  }
}
