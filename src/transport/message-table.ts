/**
 * Every message an endpoint sent, by id, for `messageState` and `messagesOf`: the ones still in
 * play and the most recent finished ones, bounded by LIMITS.MAX_MESSAGE_HISTORY.
 *
 * Why a ring indexed by message id instead of a Map of live messages plus a Map of final states:
 * ids are handed out in sequence, so slot `id & mask` finds a message with no hashing, and a
 * finished message needs no copy of its final state (its own `info()` says it) and no second table.
 * A small-message stream used to pay two Map writes, a delete and a MessageInfo object per message
 * for this bookkeeping alone. A message still in play whose slot a newer id takes (more than the
 * ring's size outstanding at once) moves to an overflow Map until it is retired, so no live message
 * is ever forgotten; finished ones are kept while no newer id needs their slot.
 */
import { LIMITS } from '../core/limits.js';
import type { OutgoingMessage } from './outgoing-message.js';

export class MessageTable {
  private readonly ring: (OutgoingMessage | null)[];
  private readonly mask: number;
  /** Live messages pushed out of the ring by newer ids (rare: a huge backlog across many peers). */
  private readonly overflow = new Map<number, OutgoingMessage>();
  /** Messages added and not yet retired. */
  liveCount = 0;

  /** Keeps at most `limit` messages in the ring (the largest power of two not above it). */
  constructor(limit: number = LIMITS.MAX_MESSAGE_HISTORY) {
    let size = 1;
    while (size * 2 <= limit) size *= 2;
    this.mask = size - 1;
    this.ring = new Array<OutgoingMessage | null>(size).fill(null);
  }

  /** A new message (ids increase from one call to the next). */
  add(msg: OutgoingMessage): void {
    const slot = msg.messageId & this.mask;
    const old = this.ring[slot];
    if (old && !old.retired) this.overflow.set(old.messageId, old);
    this.ring[slot] = msg;
    this.liveCount++;
  }

  /** `msg` finished or was retired (called once or more per message; counts its retirement once). */
  onFinished(msg: OutgoingMessage): void {
    if (!msg.retired || msg.released) return;
    msg.released = true;
    this.liveCount--;
    this.overflow.delete(msg.messageId);
  }

  get(messageId: number): OutgoingMessage | undefined {
    const msg = this.ring[messageId & this.mask];
    if (msg && msg.messageId === messageId) return msg;
    return this.overflow.get(messageId);
  }

  /** Messages the table holds now (for tests and leak checks: walks the ring). */
  get size(): number {
    let n = this.overflow.size;
    for (const msg of this.ring) if (msg) n++;
    return n;
  }

  *values(): IterableIterator<OutgoingMessage> {
    for (const msg of this.ring) if (msg) yield msg;
    yield* this.overflow.values();
  }
}
