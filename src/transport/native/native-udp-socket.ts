/**
 * A UDP socket on ferry's native addon: batched sends (sendmmsg, scatter-gather, UDP GSO) and
 * batched receives (recvmmsg into one slab, UDP GRO), for the link layer under the session core.
 *
 * Why: on node:dgram every datagram is one system call plus several JavaScript objects. Here a send
 * of 64 datagrams, or of one 64 KiB buffer the kernel segments, is one system call, and a receive
 * batch is one callback whose datagrams sit in a slab allocated once, described by a Uint32Array.
 * Nothing is allocated per datagram unless the caller asks for a view (`data`) or a first-seen source.
 *
 * @example
 * const rx = NativeUdpSocket.open({ host: '127.0.0.1' });
 * rx.onBatch((b) => { for (let i = 0; i < b.count; i++) handle(b.data(i), b.source(i)); });
 * const tx = NativeUdpSocket.open({ host: '127.0.0.1' });
 * tx.sendTo(tx.destination('127.0.0.1', rx.port), [header, payload]);
 */
import { isIP } from 'node:net';

import { FerryError, ferryError, type ErrorCode } from '../../core/errors.js';
import { parseDestination, SourceCache, type Destination, type UdpAddress } from './address.js';
import { requireNativeUdp, type NativeUdpAddon, type NativeUdpStats, type RawUdpSocket } from './addon.js';
import {
  FLAG_TRUNCATED,
  IPV4_UDP_OVERHEAD_BYTES,
  IPV6_UDP_OVERHEAD_BYTES,
  META,
  NATIVE_UDP_DEFAULTS,
  NATIVE_UDP_LIMITS,
} from './native-limits.js';
import { SendBatch } from './send-batch.js';

const L = NATIVE_UDP_LIMITS;

export interface NativeUdpSocketOptions {
  /** Numeric IPv4 or IPv6 address to bind; the family follows from it. */
  host: string;
  /** Port to bind; 0 (default) for an ephemeral one. */
  port?: number;
  /** SO_REUSEPORT: several sockets (one per thread) on one port, the kernel spreading peers over them. */
  reusePort?: boolean;
  /** IPv6 sockets only: refuse IPv4-mapped traffic (default false: dual-stack, like dgram). */
  ipv6Only?: boolean;
  /** Socket buffer sizes to ask for (0 or absent: the kernel default); read the granted ones back. */
  sendBufferBytes?: number;
  recvBufferBytes?: number;
  /**
   * Path-MTU discovery mode. `probe` (default): don't fragment and ignore the kernel's PMTU cache,
   * so probes measure the path; `do`: don't fragment, honour the cache; `off`: the kernel may fragment.
   */
  pmtud?: 'probe' | 'do' | 'off';
  /** Ask for UDP GRO on receive (default true; needs recvSlotBytes = 65536). */
  gro?: boolean;
  /** Datagrams per recvmmsg, 1..MAX_RECV_BATCH (default 64). */
  recvBatch?: number;
  /** Slab room per datagram, MIN_RECV_SLOT_BYTES..65536 (default 65536). */
  recvSlotBytes?: number;
  /** The addon to use (tests); default: the one the loader found, or a NOT_SUPPORTED error. */
  addon?: NativeUdpAddon;
}

const PMTUD = { off: 0, do: 1, probe: 2 } as const;

function checkInt(name: string, v: number | undefined, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw ferryError('INVALID_ARGUMENT', `${name} must be an integer ${min}..${max}, got ${v}`, {
      [name]: v,
    });
  return v;
}

/** A native error (errno name in `code`) as a FerryError of `code`, keeping the errno name in details. */
function fromNative(err: unknown, code: ErrorCode): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { message?: string; code?: string; syscall?: string };
  const argument = err instanceof TypeError || err instanceof RangeError;
  return new FerryError(
    argument ? 'INVALID_ARGUMENT' : code,
    e.message ?? String(err),
    { errno: e.code, syscall: e.syscall },
    err,
  );
}

/**
 * One received batch, reused for every callback of its socket: `count` datagrams, each at
 * `offset(i)` in `slab` for `length(i)` bytes. Valid only during the callback: the next batch
 * overwrites the slab and the records.
 */
export class ReceivedBatch {
  /** Datagrams in this batch. */
  count = 0;
  /** The whole receive slab. */
  readonly slab: Uint8Array;
  /** META_STRIDE words per datagram (layout: native/limits.h FERRY_META_*). */
  readonly meta: Uint32Array;
  private readonly sources = new SourceCache(NATIVE_UDP_DEFAULTS.SOURCE_CACHE_ENTRIES);

  constructor(slab: ArrayBuffer, meta: Uint32Array) {
    this.slab = new Uint8Array(slab);
    this.meta = meta;
  }

  offset(i: number): number {
    return this.meta[i * L.META_STRIDE + META.OFFSET]!;
  }

  length(i: number): number {
    return this.meta[i * L.META_STRIDE + META.LENGTH]!;
  }

  /** GRO segment size when the kernel coalesced several datagrams into this one, else 0. */
  segmentBytes(i: number): number {
    return this.meta[i * L.META_STRIDE + META.SEGMENT]!;
  }

  /** Datagrams this record holds: 1, or the coalesced segments (the last may be shorter). */
  segmentCount(i: number): number {
    const seg = this.segmentBytes(i);
    return seg === 0 ? 1 : Math.ceil(this.length(i) / seg);
  }

  /** The datagram was longer than its slot and was cut off (recvSlotBytes too small). */
  truncated(i: number): boolean {
    return (this.meta[i * L.META_STRIDE + META.PORT_FLAGS]! & FLAG_TRUNCATED) !== 0;
  }

  /** A view of datagram i's bytes (allocates the view; copy it to keep it past the callback). */
  data(i: number): Uint8Array {
    const at = this.offset(i);
    return this.slab.subarray(at, at + this.length(i));
  }

  /** A view of segment k of datagram i (k < segmentCount(i)). */
  segment(i: number, k: number): Uint8Array {
    const seg = this.segmentBytes(i) || this.length(i);
    const start = this.offset(i) + k * seg;
    return this.slab.subarray(start, Math.min(start + seg, this.offset(i) + this.length(i)));
  }

  /** Sender of datagram i, from a small cache (no allocation for a source seen recently). */
  source(i: number): UdpAddress {
    return this.sources.lookup(this.meta, i * L.META_STRIDE + META.PORT_FLAGS);
  }
}

export class NativeUdpSocket {
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
  /** UDP GSO works on this socket: `segmentBytes` > 0 may be used. */
  readonly gso: boolean;
  /** UDP GRO is on: received records may hold several segments (see ReceivedBatch.segmentBytes). */
  readonly gro: boolean;
  /** Socket buffer sizes the kernel granted (Linux reports twice what was asked for). */
  readonly sendBufferBytes: number;
  readonly recvBufferBytes: number;
  private readonly raw: RawUdpSocket;
  private readonly recvBatch: number;
  private readonly recvSlotBytes: number;
  private batch: ReceivedBatch | null = null;
  private batchCallback: ((batch: ReceivedBatch) => void) | null = null;
  private readonly destinations = new Map<string, Destination>();
  private readonly single = new SendBatch(1);
  private isClosed = false;

  private constructor(raw: RawUdpSocket, host: string, recvBatch: number, recvSlotBytes: number) {
    const info = raw.info();
    this.raw = raw;
    this.family = info.family;
    this.host = host;
    this.port = info.port;
    this.gso = info.gso;
    this.gro = info.gro;
    this.sendBufferBytes = info.sendBufferBytes;
    this.recvBufferBytes = info.recvBufferBytes;
    this.recvBatch = recvBatch;
    this.recvSlotBytes = recvSlotBytes;
  }

  /** Opens and binds a socket. Throws INVALID_ARGUMENT, BIND_FAILED (details.errno) or NOT_SUPPORTED. */
  static open(options: NativeUdpSocketOptions): NativeUdpSocket {
    const family = isIP(options.host);
    if (family === 0 || options.host.includes('%'))
      throw ferryError(
        'INVALID_ARGUMENT',
        `host must be a numeric IPv4 or IPv6 address, got '${options.host}'`,
      );
    const port = checkInt('port', options.port, 0, 65535, 0);
    const sendBufferBytes = checkInt(
      'sendBufferBytes',
      options.sendBufferBytes,
      0,
      L.MAX_SOCKET_BUFFER_BYTES,
      0,
    );
    const recvBufferBytes = checkInt(
      'recvBufferBytes',
      options.recvBufferBytes,
      0,
      L.MAX_SOCKET_BUFFER_BYTES,
      0,
    );
    const recvBatch = checkInt(
      'recvBatch',
      options.recvBatch,
      1,
      L.MAX_RECV_BATCH,
      NATIVE_UDP_DEFAULTS.RECV_BATCH,
    );
    const recvSlotBytes = checkInt(
      'recvSlotBytes',
      options.recvSlotBytes,
      L.MIN_RECV_SLOT_BYTES,
      L.MAX_RECV_SLOT_BYTES,
      NATIVE_UDP_DEFAULTS.RECV_SLOT_BYTES,
    );
    if (recvBatch * recvSlotBytes > L.MAX_SLAB_BYTES)
      throw ferryError('INVALID_ARGUMENT', `recvBatch x recvSlotBytes exceeds ${L.MAX_SLAB_BYTES} bytes`);
    const gro = options.gro ?? true;
    if (gro && recvSlotBytes < L.MAX_RECV_SLOT_BYTES)
      throw ferryError(
        'INVALID_ARGUMENT',
        `gro needs recvSlotBytes = ${L.MAX_RECV_SLOT_BYTES} (coalesced datagrams reach 64 KiB); set gro: false for smaller slots`,
      );
    const pmtud = options.pmtud ?? 'probe';
    if (!Object.hasOwn(PMTUD, pmtud))
      throw ferryError('INVALID_ARGUMENT', `pmtud must be 'probe', 'do' or 'off', got '${pmtud}'`);
    const addon = options.addon ?? requireNativeUdp();
    let raw: RawUdpSocket;
    try {
      raw = new addon.UdpSocket({
        family: family as 4 | 6,
        host: options.host,
        port,
        reusePort: options.reusePort ?? false,
        ipv6Only: options.ipv6Only ?? false,
        sendBufferBytes,
        recvBufferBytes,
        pmtud: PMTUD[pmtud],
        gro,
      });
    } catch (err) {
      throw fromNative(err, 'BIND_FAILED');
    }
    return new NativeUdpSocket(raw, options.host, recvBatch, recvSlotBytes);
  }

  /**
   * Largest datagram the interface towards `host` carries unfragmented: the route's MTU minus the IP
   * and UDP headers, at most 65,507 (loopback: 65,507; Ethernet: 1,472 on IPv4, 1,452 on IPv6).
   * No packet is sent: a connected probe socket reads IP_MTU.
   */
  static maxDatagramBytes(host: string, addon: NativeUdpAddon = requireNativeUdp()): number {
    const family = isIP(host);
    if (family === 0)
      throw ferryError('INVALID_ARGUMENT', `host must be a numeric IP address, got '${host}'`);
    let mtu: number;
    try {
      mtu = addon.routeMtu(family as 4 | 6, host, 9);
    } catch (err) {
      throw fromNative(err, 'IO_ERROR');
    }
    const overhead = family === 4 ? IPV4_UDP_OVERHEAD_BYTES : IPV6_UDP_OVERHEAD_BYTES;
    return Math.min(mtu - overhead, L.MAX_DATAGRAM_BYTES);
  }

  /** Datagrams one receive batch holds (the slab's slots). */
  get receiveBatchDatagrams(): number {
    return this.recvBatch;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Counters of this socket (system calls, batches, datagrams, bytes, GSO/GRO, errors). */
  get stats(): NativeUdpStats {
    return this.raw.stats();
  }

  /** `{ host, port }` this socket is bound to. */
  address(): UdpAddress {
    return { host: this.host, port: this.port, family: this.family };
  }

  /**
   * A destination for this socket, parsed once and remembered (keep it per peer: the lookup builds a
   * key string). IPv4 hosts on an IPv6 socket are IPv4-mapped.
   */
  destination(host: string, port: number): Destination {
    const key = `${host}|${port}`;
    let d = this.destinations.get(key);
    if (d) return d;
    d = parseDestination(host, port, this.family);
    if (this.destinations.size >= NATIVE_UDP_DEFAULTS.DESTINATION_CACHE_ENTRIES) this.destinations.clear();
    this.destinations.set(key, d);
    return d;
  }

  /**
   * Sends the batch with as few sendmmsg calls as it takes. Returns how many datagrams (from the
   * front) the kernel took; fewer than `batch.length` means the socket buffer is full: `discard`
   * those, `awaitWritable`, and send the rest. A datagram the kernel refuses outright (EMSGSIZE,
   * unreachable) counts as taken and lost, and shows in `stats.sendErrors`.
   */
  sendBatch(batch: SendBatch): number {
    this.checkOpen();
    try {
      return this.raw.sendBatch(batch.slices, batch.desc, batch.length);
    } catch (err) {
      throw fromNative(err, 'IO_ERROR');
    }
  }

  /** Sends one datagram made of `slices` (scatter-gather). False when the socket buffer is full. */
  sendTo(to: Destination, slices: readonly Uint8Array[], count = slices.length): boolean {
    return this.sendOne(to, slices, count, 0);
  }

  /**
   * Sends the bytes of `slices` with UDP GSO: the kernel cuts them into datagrams of `segmentBytes`
   * (the last one shorter). At most MAX_GSO_SEGMENTS segments and MAX_DATAGRAM_BYTES in all.
   * False when the socket buffer is full.
   */
  sendSegmented(to: Destination, slices: readonly Uint8Array[], segmentBytes: number): boolean {
    if (!this.gso)
      throw ferryError('NOT_SUPPORTED', 'UDP GSO is not available on this socket (check socket.gso)');
    if (!Number.isInteger(segmentBytes) || segmentBytes < 1)
      throw ferryError('INVALID_ARGUMENT', `segmentBytes must be a positive integer, got ${segmentBytes}`);
    let total = 0;
    for (const s of slices) total += s.length;
    if (total > L.MAX_DATAGRAM_BYTES || Math.ceil(total / segmentBytes) > L.MAX_GSO_SEGMENTS)
      throw ferryError(
        'INVALID_ARGUMENT',
        `a GSO send carries at most ${L.MAX_DATAGRAM_BYTES} bytes in ${L.MAX_GSO_SEGMENTS} segments; got ${total} bytes in segments of ${segmentBytes}`,
      );
    return this.sendOne(to, slices, slices.length, segmentBytes);
  }

  private sendOne(
    to: Destination,
    slices: readonly Uint8Array[],
    count: number,
    segmentBytes: number,
  ): boolean {
    const b = this.single;
    b.clear();
    b.addv(to, slices, count, segmentBytes);
    const sent = this.sendBatch(b);
    b.clear();
    return sent === 1;
  }

  /**
   * Starts receiving: `callback` gets one ReceivedBatch per recvmmsg (the same object each time).
   * Calling again replaces the callback. The slab (recvBatch x recvSlotBytes) is allocated here, once.
   */
  onBatch(callback: (batch: ReceivedBatch) => void): void {
    this.checkOpen();
    this.batchCallback = callback;
    if (this.batch) return;
    const slab = new ArrayBuffer(this.recvBatch * this.recvSlotBytes);
    const meta = new Uint32Array(this.recvBatch * L.META_STRIDE);
    this.batch = new ReceivedBatch(slab, meta);
    try {
      this.raw.startReceive(slab, meta, this.recvSlotBytes, this.recvBatch, this.dispatch);
    } catch (err) {
      this.batch = null;
      throw fromNative(err, 'IO_ERROR');
    }
  }

  private readonly dispatch = (count: number): void => {
    const batch = this.batch;
    const cb = this.batchCallback;
    if (!batch || !cb) return;
    batch.count = count;
    cb(batch);
  };

  /** Calls `callback` once, when the socket buffer has room again after `sendBatch` came back short. */
  awaitWritable(callback: () => void): void {
    this.checkOpen();
    this.raw.awaitWritable(callback);
  }

  /** Stops polling and closes the descriptor. Safe inside a callback and when already closed. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.batchCallback = null;
    this.raw.close();
  }

  /** Whether an open socket keeps the process alive (like dgram's ref/unref). */
  ref(): void {
    this.raw.ref();
  }

  unref(): void {
    this.raw.unref();
  }

  private checkOpen(): void {
    if (this.isClosed) throw ferryError('CLOSED', 'the native UDP socket is closed');
  }
}
