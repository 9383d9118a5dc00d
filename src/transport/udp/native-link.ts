/**
 * `NativeLink`: the UDP transport's link over ferry's native socket (src/transport/native/): sends are
 * queued into one preallocated SendBatch and leave in one `sendmmsg` per flush, runs of equal-sized
 * packets to one peer as one UDP GSO datagram; received datagrams come from one `recvmmsg` into the
 * socket's slab (GRO-coalesced runs split into their segments) and go up one `onDatagram` call each,
 * as views into the slab that are valid for that call only.
 *
 * Why the same seam as `UdpLink`: a session sees only `DatagramLink` (acquire, send, flush), so the
 * socket is chosen once at start-up (udp/endpoint.ts) and nothing above it changes. Back-pressure
 * reaches the sessions as it does on dgram: a header buffer stays out of the pool until the kernel
 * took its datagram, and while the socket buffer is full the queued batch keeps them, so `acquire`
 * runs dry and the sessions pause; once the socket is writable the rest goes, the buffers return and
 * the waiting sessions are woken (`onPoolRefilled`).
 *
 * No allocation per packet beyond the header's `subarray` (as on dgram): the batch, its descriptor
 * words and the per-datagram buffer counts are preallocated, destinations are parsed once per peer,
 * sources come from the socket's cache and receive views are reused while slot and length repeat.
 */
import { BufferPool } from '../../core/pool.js';
import type { DatagramLink, DatagramSink } from '../link.js';
import type { Destination } from '../native/address.js';
import { NATIVE_UDP_LIMITS } from '../native/native-limits.js';
import type { NativeUdpSocket, ReceivedBatch } from '../native/native-udp-socket.js';
import { SendBatch } from '../native/send-batch.js';
import type { PacketSealer } from '../crypto/packet-aead.js';
import { sealDatagram } from '../seal.js';
import type { PeerAddress, PeerStats } from '../types.js';
import type { LinkCounters } from './link.js';

/** Datagrams (GSO runs count once) one flush hands to one sendmmsg; more wait for the next call. */
export const NATIVE_LINK_BATCH_DATAGRAMS = 512;
/**
 * Batch entries kept free for control packets and acks while the socket is full: data sends see an
 * empty pool first, so a handshake reply or a CLOSE still finds room.
 */
export const NATIVE_LINK_CONTROL_ROOM = 32;
/** Receive views remembered per slab slot (one per GRO segment). */
const VIEWS_PER_SLOT = NATIVE_UDP_LIMITS.MAX_GSO_SEGMENTS;
const { MAX_GSO_SEGMENTS, MAX_DATAGRAM_BYTES, MAX_SLICES_PER_DATAGRAM, MAX_SEND_SLICES } = NATIVE_UDP_LIMITS;
/** Settled once: `.then(f)` runs f in a microtask (the safety flush of a batch nobody flushed). */
const SETTLED = Promise.resolve();

export class NativeLink implements DatagramLink {
  private readonly pool: BufferPool;
  private poolStarved = false;
  private readonly batch = new SendBatch(NATIVE_LINK_BATCH_DATAGRAMS);
  /** Pool buffers of the batch's datagrams, in order (a GSO run holds one per segment). */
  private readonly held: Buffer[] = [];
  private heldHead = 0;
  /** Pool buffers per batch datagram (0 for a control packet). */
  private readonly heldCount = new Uint16Array(NATIVE_LINK_BATCH_DATAGRAMS);
  /** The last datagram of the batch is a GSO run that may still grow: its peer, segment size, fill. */
  private runOpen = false;
  private runTo: Destination | null = null;
  private runSegmentBytes = 0;
  private runSegments = 0;
  private runBytes = 0;
  /** The socket buffer was full: the rest of the batch waits for `awaitWritable`. */
  private blocked = false;
  private flushQueued = false;
  /** The last peer address sent to and its parsed destination (a session sends runs to one peer). */
  private lastTo: PeerAddress | null = null;
  private lastDest: Destination | null = null;
  private readonly destinations = new WeakMap<PeerAddress, Destination>();
  /** Receive views into the slab, by batch slot and segment, reused while offset and length repeat. */
  private readonly views: (Buffer | undefined)[];
  private sink: DatagramSink | null = null;
  closed = false;
  /** Datagrams dropped because the batch was full while the socket was (counted as lost). */
  droppedFull = 0;
  /** Batches the socket refused outright (dropped as lost) and the last reason. */
  failedBatches = 0;
  lastError: string | null = null;

  constructor(
    private readonly socket: NativeUdpSocket,
    packetBytes: number,
    poolBytes: number,
    private readonly counters: LinkCounters,
    /** The pool was starved and is half full again: sessions waiting for buffers may go on. */
    private readonly onPoolRefilled: () => void,
    /** Use UDP GSO for runs of equal-sized packets (when the socket has it). */
    private readonly gso: boolean = socket.gso,
  ) {
    this.pool = new BufferPool(packetBytes, Math.max(16, Math.floor(poolBytes / packetBytes)));
    this.views = new Array<Buffer | undefined>(socket.receiveBatchDatagrams * VIEWS_PER_SLOT).fill(undefined);
  }

  // ================================================================== sending

  /** A pool buffer of at least `packetBytes`, or null (pool empty, or the socket full and the batch too). */
  acquire(): Buffer | null {
    if (this.blocked && this.batch.length >= NATIVE_LINK_BATCH_DATAGRAMS - NATIVE_LINK_CONTROL_ROOM) {
      this.poolStarved = true;
      return null;
    }
    const buf = this.pool.acquire();
    if (!buf) this.poolStarved = true;
    return buf;
  }

  release(buf: Buffer): void {
    this.pool.release(buf);
  }

  /**
   * Seals `buf[0, length)` + `slices[0, sliceCount)` and queues them as one datagram (a segment of the
   * open GSO run when it has the run's peer and size); the buffer returns to the pool once the kernel
   * took it.
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
    length = sealDatagram(buf, length, slices, sliceCount, sealer);
    if (sealer) sliceCount = 0; // the sealer encrypted the slices into buf
    let total = length;
    for (let i = 0; i < sliceCount; i++) total += slices![i]!.length;
    stats.packetsSent++;
    stats.bytesSent += total;
    if (this.closed) {
      this.pool.release(buf);
      return;
    }
    const dest = this.destinationOf(to);
    if (!this.queue(dest, buf, length, slices, sliceCount, total, true)) {
      this.flush();
      if (!this.queue(dest, buf, length, slices, sliceCount, total, true)) {
        this.droppedFull++;
        this.pool.release(buf);
        return;
      }
    }
    this.counters.packetsSent++;
    this.counters.bytesSent += total;
  }

  /** Queues an already sealed control packet (not a pool buffer) of a session. */
  sendControl(stats: PeerStats, to: PeerAddress, packet: Buffer): void {
    stats.packetsSent++;
    stats.bytesSent += packet.length;
    this.sendRaw(packet, to);
  }

  /** Queues an already sealed packet to an address no session has (handshake replies, resets). */
  sendRaw(packet: Buffer, to: PeerAddress): void {
    if (this.closed) return;
    const dest = this.destinationOf(to);
    if (!this.queue(dest, packet, packet.length, undefined, 0, packet.length, false)) {
      this.flush();
      if (!this.queue(dest, packet, packet.length, undefined, 0, packet.length, false)) {
        this.droppedFull++;
        return;
      }
    }
    this.counters.packetsSent++;
    this.counters.bytesSent += packet.length;
  }

  /** Hands the queued batch to the kernel (one sendmmsg); what does not fit waits for writability. */
  flush(): void {
    if (this.blocked || this.closed) return;
    const batch = this.batch;
    if (batch.length === 0) return;
    let n: number;
    try {
      n = this.socket.sendBatch(batch);
    } catch (err) {
      // a defect (the batch was checked as it was built): the data path drops it as loss, never throws
      this.failedBatches++;
      this.lastError = err instanceof Error ? err.message : String(err);
      n = batch.length;
    }
    this.releaseTaken(n);
    if (batch.length > 0) {
      this.blocked = true;
      this.socket.awaitWritable(this.onWritable);
    }
    this.checkRefilled();
  }

  /** Nothing to do per tick: buffers return when their batch goes (dgram's link polls libuv here). */
  releaseSent(): void {
    this.checkRefilled();
  }

  /** Drops what is still queued (the socket closes): the buffers go back to the pool. */
  close(): void {
    this.flush();
    this.closed = true;
    this.releaseTaken(this.batch.length);
  }

  private readonly onWritable = (): void => {
    this.blocked = false;
    if (this.closed) return;
    this.flush();
  };

  private readonly flushSoon = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  /** The parsed destination of a session's address (kept per address object, no key string per packet). */
  private destinationOf(to: PeerAddress): Destination {
    if (to === this.lastTo) return this.lastDest!;
    let d = this.destinations.get(to);
    if (!d) {
      d = this.socket.destination(to.host, to.port);
      this.destinations.set(to, d);
    }
    this.lastTo = to;
    this.lastDest = d;
    return d;
  }

  /** Appends one datagram to the batch (to the open GSO run if it fits there); false when the batch is full. */
  private queue(
    dest: Destination,
    buf: Buffer,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
    total: number,
    pooled: boolean,
  ): boolean {
    const batch = this.batch;
    const parts = 1 + sliceCount;
    if (batch.sliceCount + parts > MAX_SEND_SLICES) return false;
    const header = buf.length === length ? buf : buf.subarray(0, length);
    if (
      this.runOpen &&
      dest === this.runTo &&
      // a shorter tail joins a run of at least two: a lone larger datagram may be a path-MTU probe,
      // whose loss (EMSGSIZE on a smaller path) must not take a data packet with it
      (total === this.runSegmentBytes || (total < this.runSegmentBytes && this.runSegments >= 2)) &&
      this.runSegments < MAX_GSO_SEGMENTS &&
      this.runBytes + total <= MAX_DATAGRAM_BYTES &&
      batch.lastSlices() + parts <= MAX_SLICES_PER_DATAGRAM
    ) {
      batch.append(header);
      for (let i = 0; i < sliceCount; i++) batch.append(slices![i]!);
      if (this.runSegments === 1) batch.setLastSegmentBytes(this.runSegmentBytes);
      this.runSegments++;
      this.runBytes += total;
      // a shorter datagram ends the run: every segment but the last is exactly the segment size
      this.runOpen = total === this.runSegmentBytes;
      if (pooled) {
        this.held.push(buf);
        this.heldCount[batch.length - 1]!++;
      }
      return true;
    }
    if (batch.length === batch.capacity) return false;
    batch.add(dest, header);
    for (let i = 0; i < sliceCount; i++) batch.append(slices![i]!);
    this.heldCount[batch.length - 1] = pooled ? 1 : 0;
    if (pooled) this.held.push(buf);
    // only sealed data packets start a run (control packets are few and of any size)
    this.runOpen = this.gso && pooled;
    this.runTo = dest;
    this.runSegmentBytes = total;
    this.runSegments = 1;
    this.runBytes = total;
    if (!this.flushQueued) {
      this.flushQueued = true;
      void SETTLED.then(this.flushSoon);
    }
    return true;
  }

  /** The first `n` datagrams of the batch went: their buffers return to the pool. */
  private releaseTaken(n: number): void {
    const batch = this.batch;
    if (n <= 0) return;
    let buffers = 0;
    for (let i = 0; i < n; i++) buffers += this.heldCount[i]!;
    const held = this.held;
    for (let i = 0; i < buffers; i++) {
      this.pool.release(held[this.heldHead]!);
      held[this.heldHead++] = undefined as unknown as Buffer;
    }
    if (n >= batch.length) {
      batch.clear();
      held.length = 0;
      this.heldHead = 0;
      this.runOpen = false;
    } else {
      batch.discard(n);
      this.heldCount.copyWithin(0, n, n + batch.length);
    }
  }

  private checkRefilled(): void {
    if (this.poolStarved && !this.blocked && this.pool.available * 2 >= this.pool.capacity) {
      this.poolStarved = false;
      this.onPoolRefilled();
    }
  }

  // ================================================================== receiving

  /** Starts receiving: every datagram (every GRO segment) goes to `sink` as a view valid for the call. */
  startReceiving(sink: DatagramSink): void {
    this.sink = sink;
    this.socket.onBatch(this.onBatch);
  }

  private readonly onBatch = (batch: ReceivedBatch): void => {
    const sink = this.sink;
    if (!sink || this.closed) return;
    for (let i = 0; i < batch.count; i++) {
      if (batch.truncated(i)) continue; // a slot is 64 KiB: no UDP datagram is longer
      const from = batch.source(i);
      const at = batch.offset(i);
      const length = batch.length(i);
      const seg = batch.segmentBytes(i) || length;
      for (let k = 0, start = at; start < at + length; k++, start += seg) {
        const bytes = Math.min(seg, at + length - start);
        const key = k < VIEWS_PER_SLOT ? i * VIEWS_PER_SLOT + k : -1;
        sink.onDatagram(this.viewOf(batch, key, start, bytes), from.host, from.port);
        if (this.closed) return;
      }
    }
    this.flush();
  };

  /** A Buffer over `slab[start, start + bytes)`, the one made last time for this slot if it matches. */
  private viewOf(batch: ReceivedBatch, key: number, start: number, bytes: number): Buffer {
    const slab = batch.slab;
    const byteOffset = slab.byteOffset + start;
    const v = key < 0 ? undefined : this.views[key];
    if (v !== undefined && v.byteOffset === byteOffset && v.length === bytes) return v;
    const made = Buffer.from(slab.buffer, byteOffset, bytes);
    if (key >= 0) this.views[key] = made;
    return made;
  }
}
