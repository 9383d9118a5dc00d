/**
 * The endpoint socket's receive buffer, split in equal shares between the peers sending to it now.
 *
 * Why: on a host (loopback, a fast LAN) the bottleneck is the receiver itself, and its queue is the
 * socket's receive buffer. When the packets all senders keep in flight fit in that buffer, the
 * kernel drops nothing; when each sender may fill only its equal share, a sender that started
 * first cannot keep the buffer to itself, so n senders into one receiver get equal goodput
 * (receiver-driven fairness). A sender that stops (no DATA for ACTIVE_SENDER_MS) gives its share
 * back to the others.
 *
 * The kernel charges a datagram its buffer's true size, not its length, and frees what the reader
 * consumed only in batches: Linux's UDP receive path defers the release until a quarter of the
 * buffer was read (udp_rmem_release), so only about three quarters of the granted buffer holds
 * datagrams. Both measured on loopback (Linux 6.x, python sender, reader idle):
 *
 *   payload   1200-1600  1800-3000  3800-6000  8800-16000  20000  32000  65000
 *   truesize       2304       4352       8456       16644  20867  32897  66052
 *
 * Pure bookkeeping on numbers handed in (no clock): tested alone.
 */

/** A peer that sent DATA this recently shares the socket's receive buffer. */
export const ACTIVE_SENDER_MS = 200;
/** Share of the granted buffer that holds datagrams (the rest waits for the kernel's batched release). */
export const USABLE_SOCKET_FRACTION = 0.7;
/** Headroom and headers the kernel adds before rounding a small datagram's buffer up. */
const SKB_HEAD_BYTES = 400;
/** The socket buffer bookkeeping (sk_buff and shared info) charged on top of the data buffer. */
const SKB_STRUCT_BYTES = 320;
/** Largest data buffer the kernel rounds up to a power of two; larger ones are page fragments. */
const SKB_POW2_MAX_BYTES = 16_384;
/** What a large (page-fragment) datagram costs beyond its length. */
const SKB_LARGE_OVERHEAD_BYTES = 1600;
/** The socket window never goes below this (tiny buffers still let a few packets through). */
export const MIN_SOCKET_WINDOW_PACKETS = 16;

/** What one datagram of `packetBytes` costs in the receive buffer (the kernel's truesize, rounded up). */
export function kernelDatagramBytes(packetBytes: number): number {
  const head = packetBytes + SKB_HEAD_BYTES;
  if (head > SKB_POW2_MAX_BYTES) return packetBytes + SKB_LARGE_OVERHEAD_BYTES;
  return 2 ** Math.ceil(Math.log2(head)) + SKB_STRUCT_BYTES;
}

export class ReceiveShare {
  private activeSenders = 1;
  private counting = 0;
  /** Bytes of the socket buffer that hold datagrams. */
  readonly usableBytes: number;

  constructor(socketReceiveBytes: number) {
    this.usableBytes = Math.max(0, socketReceiveBytes) * USABLE_SOCKET_FRACTION;
  }

  /** Peers counted as sending by the last `endCount` (at least 1). */
  get senders(): number {
    return this.activeSenders;
  }

  /** Starts counting the peers that send now (once per endpoint tick). */
  beginCount(): void {
    this.counting = 0;
  }

  /** One peer, whose DATA last arrived at `lastDataMs`. */
  count(lastDataMs: number, nowMs: number): void {
    if (nowMs - lastDataMs < ACTIVE_SENDER_MS) this.counting++;
  }

  endCount(): void {
    this.activeSenders = Math.max(1, this.counting);
  }

  /** One sender's share of the usable buffer, in bytes. */
  shareBytes(): number {
    return this.usableBytes / this.activeSenders;
  }

  /** One sender's share in packets of `packetBytes` (at least MIN_SOCKET_WINDOW_PACKETS). */
  sharePackets(packetBytes: number): number {
    const packets = Math.floor(this.shareBytes() / kernelDatagramBytes(packetBytes));
    return Math.max(packets, MIN_SOCKET_WINDOW_PACKETS);
  }
}
