/**
 * A BufferPool whose users wait their turn for a buffer instead of getting null.
 *
 * Why: the server's download reads and the client's out-of-order download blocks both hold pooled
 * buffers for as long as the network or the sink needs them; when the pool runs dry the next user
 * must wait for a release (back-pressure), never allocate. Waiters are woken in arrival order, one
 * per release.
 */
import { BufferPool } from '../core/pool.js';

export class WaitingPool {
  private readonly pool: BufferPool;
  private readonly waiters: Array<() => void> = [];

  constructor(bufferBytes: number, capacity: number) {
    this.pool = new BufferPool(bufferBytes, capacity);
  }

  get bufferBytes(): number {
    return this.pool.bufferBytes;
  }

  /** A buffer of exactly `bufferBytes`, once one is free. */
  async acquire(): Promise<Buffer> {
    for (;;) {
      const b = this.pool.acquire();
      if (b) return b;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Returns a buffer from `acquire` and wakes the longest waiter. */
  release(buf: Buffer): void {
    this.pool.release(buf);
    this.waiters.shift()?.();
  }
}
