/**
 * A fixed pool of equal buffers whose users wait their turn for one instead of getting null.
 *
 * Why: the server's download reads and the client's out-of-order download blocks both hold pooled
 * buffers for as long as the network or the sink needs them; when the pool runs dry the next user
 * must wait for a release (back-pressure), never allocate. Waiters are woken in arrival order, one
 * per release.
 *
 * Why not a BufferPool underneath: the buffers here are handed out once per block, so the views
 * are made once, when the pool is (BufferPool makes a new view per acquire), and each buffer has
 * its release function made once too (`releaser`), for promise callbacks without a closure per use.
 */
import { FerryError } from '../core/errors.js';

export class WaitingPool {
  readonly bufferBytes: number;
  private readonly free: Buffer[] = [];
  private readonly inUse = new Map<Buffer, boolean>();
  private readonly releasers = new Map<Buffer, () => void>();
  private readonly waiters: Array<() => void> = [];
  /** Buffers `replace` wrote off: their late releases are ignored (weak: the pool does not keep them). */
  private readonly writtenOff = new WeakSet<Buffer>();

  constructor(bufferBytes: number, capacity: number) {
    if (
      !Number.isSafeInteger(bufferBytes) ||
      bufferBytes <= 0 ||
      !Number.isSafeInteger(capacity) ||
      capacity <= 0
    ) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `WaitingPool needs positive whole numbers, got ${bufferBytes} bytes x ${capacity} buffers`,
      );
    }
    this.bufferBytes = bufferBytes;
    const slab = Buffer.allocUnsafeSlow(bufferBytes * capacity);
    for (let i = capacity - 1; i >= 0; i--) {
      const buf = slab.subarray(i * bufferBytes, (i + 1) * bufferBytes);
      this.free.push(buf);
      this.inUse.set(buf, false);
      this.releasers.set(buf, () => this.release(buf));
    }
  }

  /** A free buffer now, or null (never waits, never allocates). */
  tryAcquire(): Buffer | null {
    const b = this.free.pop();
    if (b === undefined) return null;
    this.inUse.set(b, true);
    return b;
  }

  /** A buffer of exactly `bufferBytes`, once one is free. */
  async acquire(): Promise<Buffer> {
    for (;;) {
      const b = this.tryAcquire();
      if (b) return b;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Returns a buffer from `acquire` and wakes the longest waiter. A foreign or free buffer throws. */
  release(buf: Buffer): void {
    if (this.writtenOff.has(buf)) return;
    if (this.inUse.get(buf) !== true) {
      throw new FerryError('INTERNAL', 'WaitingPool.release of a buffer that is not out of this pool');
    }
    this.inUse.set(buf, false);
    this.free.push(buf);
    this.waiters.shift()?.();
  }

  /**
   * Writes off `buf`, a buffer still out that its holder may never give back (the network still
   * points at it), and puts a fresh buffer of the same size in its place, so the pool keeps its
   * capacity. A later release of `buf` is ignored. The one allocation here happens only on this
   * rare path (a reply overdue past its deadline), never per block.
   */
  replace(buf: Buffer): void {
    if (this.inUse.get(buf) !== true) {
      throw new FerryError('INTERNAL', 'WaitingPool.replace of a buffer that is not out of this pool');
    }
    this.inUse.delete(buf);
    this.releasers.delete(buf);
    this.writtenOff.add(buf);
    const fresh = Buffer.allocUnsafeSlow(this.bufferBytes);
    this.inUse.set(fresh, false);
    this.releasers.set(fresh, () => this.release(fresh));
    this.free.push(fresh);
    this.waiters.shift()?.();
  }

  /** The function that releases `buf` (a buffer of this pool), made once per buffer. */
  releaser(buf: Buffer): () => void {
    const r = this.releasers.get(buf);
    if (!r) throw new FerryError('INTERNAL', 'WaitingPool.releaser of a buffer not from this pool');
    return r;
  }
}
