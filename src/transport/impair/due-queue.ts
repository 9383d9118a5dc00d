/**
 * The datagrams an impairment holds, ordered by the time they fall due.
 *
 * Why a binary heap: jitter, reordering and the rate limit make due times arrive out of order, and
 * the impairment needs only the earliest (to arm its one timer) and to pop everything due. A heap
 * does both in O(log n) with no per-datagram closure; entries are recycled through a free list so a
 * steady stream allocates nothing for bookkeeping. Equal due times leave in arrival order (`seq`),
 * so a plain delay never reorders.
 */

/** Where a held datagram goes when it falls due. */
export type Deliver<M> = (datagram: Buffer, meta: M) => void;

export interface HeldDatagram {
  dueMs: number;
  seq: number;
  data: Buffer;
  meta: unknown;
  deliver: Deliver<unknown>;
}

/** Entries kept for reuse; beyond this, popped entries are left to the garbage collector. */
const MAX_FREE_ENTRIES = 4096;

const EMPTY = Buffer.alloc(0);
const NOOP: Deliver<unknown> = () => {};

export class DueQueue {
  private readonly heap: HeldDatagram[] = [];
  private readonly free: HeldDatagram[] = [];
  private nextSeq = 0;
  private bytes = 0;

  get length(): number {
    return this.heap.length;
  }

  /** Sum of the lengths of the held datagrams. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Due time of the earliest entry, or Infinity when empty. */
  peekDueMs(): number {
    return this.heap[0]?.dueMs ?? Infinity;
  }

  push<M>(dueMs: number, data: Buffer, meta: M, deliver: Deliver<M>): void {
    const e = this.free.pop() ?? { dueMs: 0, seq: 0, data: EMPTY, meta: undefined, deliver: NOOP };
    e.dueMs = dueMs;
    e.seq = this.nextSeq++;
    e.data = data;
    e.meta = meta;
    e.deliver = deliver as Deliver<unknown>;
    this.bytes += data.length;
    this.heap.push(e);
    this.siftUp(this.heap.length - 1);
  }

  /**
   * Removes the earliest entry and hands it to `fn` (entry fields are valid only during the call:
   * the entry is recycled afterwards). Returns false when the queue is empty.
   */
  popInto(fn: (e: HeldDatagram) => void): boolean {
    const top = this.heap[0];
    if (!top) return false;
    const last = this.heap.pop()!;
    if (last !== top) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    this.bytes -= top.data.length;
    try {
      fn(top);
    } finally {
      this.recycle(top);
    }
    return true;
  }

  /** Drops every entry; returns how many there were. */
  clear(): number {
    const n = this.heap.length;
    for (const e of this.heap) this.recycle(e);
    this.heap.length = 0;
    this.bytes = 0;
    return n;
  }

  private recycle(e: HeldDatagram): void {
    e.data = EMPTY;
    e.meta = undefined;
    e.deliver = NOOP;
    if (this.free.length < MAX_FREE_ENTRIES) this.free.push(e);
  }

  private before(a: HeldDatagram, b: HeldDatagram): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!this.before(e, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(h[right]!, h[left]!) ? right : left;
      const c = h[child]!;
      if (!this.before(c, e)) break;
      h[i] = c;
      i = child;
    }
    h[i] = e;
  }
}
