/**
 * Reassembly buffers kept for reuse: a message's buffer goes back here when its handler settled,
 * and the next message of the same size (rounded up to a page) takes it instead of a new one.
 *
 * Why: a copy moves thousands of equal-sized blocks; a fresh `Buffer.allocUnsafe` per block is
 * fresh memory each time (page faults on the first copy into it) and external memory the garbage
 * collector must sweep (a 1 GiB upload: 4,096 buffers of 256 KiB, 10 % of the server's CPU in GC).
 * Only an endpoint whose handler promised to keep no reference past its promise uses a pool
 * (`onMessage(handler, { reusePayloads: true })`): the pool hands a buffer out again at once.
 *
 * Bounded by `limitBytes` of free buffers; a buffer the pool did not make is refused (it is a view
 * of a datagram or of a caller's memory), and one given back twice is counted, never kept twice.
 */
import { LIMITS } from '../core/limits.js';

const PAGE_BYTES = 4096;

export class PayloadPool {
  /** Free buffers by their (page-rounded) byte length. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Every buffer this pool made; a WeakSet, so buffers never given back are still collected. */
  private readonly made = new WeakSet<ArrayBuffer>();
  /** Buffers that are free now (to refuse a second give of the same one). */
  private readonly freeSet = new Set<ArrayBuffer>();
  /** Bytes of free buffers held. */
  freeBytes = 0;
  /** Buffers handed out again instead of allocated. */
  reuses = 0;
  /** Buffers given back twice (a bug in the caller; counted, kept once). */
  doubleGives = 0;

  constructor(readonly limitBytes: number = LIMITS.PAYLOAD_POOL_BYTES) {}

  /** A buffer of exactly `bytes` (contents undefined); throws what the allocator throws. */
  take(bytes: number): Buffer {
    if (bytes < LIMITS.PAYLOAD_POOL_MIN_BYTES) return Buffer.allocUnsafe(bytes);
    const size = roundUp(bytes);
    const list = this.free.get(size);
    let backing = list?.pop();
    if (backing !== undefined) {
      this.freeSet.delete(backing);
      this.freeBytes -= size;
      this.reuses++;
    } else {
      backing = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer; // its own, not zero-filled
      this.made.add(backing);
    }
    return Buffer.from(backing, 0, bytes);
  }

  /** Gives `buf` back for reuse: nothing may read or write it after. Not the pool's: ignored. */
  give(buf: Uint8Array): void {
    const backing = buf.buffer;
    if (!(backing instanceof ArrayBuffer) || !this.made.has(backing) || buf.byteOffset !== 0) return;
    if (this.freeSet.has(backing)) {
      this.doubleGives++;
      return;
    }
    const size = backing.byteLength;
    if (this.freeBytes + size > this.limitBytes) return;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(backing);
    this.freeSet.add(backing);
    this.freeBytes += size;
  }

  /** Drops every free buffer (the endpoint closed, or reuse was turned off). */
  clear(): void {
    this.free.clear();
    this.freeSet.clear();
    this.freeBytes = 0;
  }
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}
