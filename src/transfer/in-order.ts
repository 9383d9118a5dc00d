/**
 * Feeds download blocks to one consumer (the whole-file hash, a sequential sink) in offset order,
 * whatever order they arrive in.
 *
 * Why: a download keeps many reads in flight and replies come back in any order, but a hash and a
 * pipe need the bytes in order. A block at the cursor is consumed straight from the message (no
 * copy); one that arrives early is copied once into a pooled buffer and consumed when the cursor
 * reaches it. The pool bounds how far ahead blocks may run.
 */
import type { WaitingPool } from './waiting-pool.js';

/** Feeds blocks to a consumer in offset order, holding early ones in pooled copies. */
export class InOrder {
  cursor = 0;
  private busy = false;
  private readonly pending = new Map<number, Buffer>();

  constructor(
    private readonly pool: WaitingPool,
    private readonly process: (data: Buffer) => Promise<void> | void,
  ) {}

  async offer(offset: number, data: Buffer): Promise<void> {
    if (!this.busy && offset === this.cursor) {
      this.busy = true;
      try {
        await this.process(data);
      } catch (err) {
        this.busy = false;
        throw err;
      }
      this.cursor += data.length;
      return this.drain();
    }
    const buf = await this.pool.acquire();
    data.copy(buf);
    this.pending.set(offset, buf.subarray(0, data.length));
    if (this.busy) return;
    this.busy = true;
    return this.drain();
  }

  /**
   * Consumes held blocks from the cursor on; the caller has set `busy`. `busy` is cleared in the same
   * synchronous step that finds no block at the cursor: a block held after that step starts its own
   * drain, and one held before it is taken by this one (clearing it a microtask later would strand a
   * block held in between).
   */
  private async drain(): Promise<void> {
    try {
      for (let next = this.pending.get(this.cursor); next; next = this.pending.get(this.cursor)) {
        this.pending.delete(this.cursor);
        try {
          await this.process(next);
        } finally {
          this.pool.release(Buffer.from(next.buffer, next.byteOffset, this.pool.bufferBytes));
        }
        this.cursor += next.length;
      }
    } finally {
      this.busy = false;
    }
  }
}
