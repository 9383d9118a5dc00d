/**
 * Final states of finished messages, kept for `messageState` queries, bounded by
 * LIMITS.MAX_MESSAGE_HISTORY.
 *
 * Why two generations instead of one Map trimmed at its oldest key: deleting a Map's first entry
 * leaves a hole that every later `keys().next()` walks over until the table is rebuilt, so trimming
 * one entry per finished message costs time proportional to the holes (a third of the CPU time of a
 * small-message stream, measured). Two Maps, the older dropped whole when the newer is half the
 * bound, keep every operation constant-time and at most the bound in memory; the newest half of the
 * entries (at least) is always kept.
 */
import { LIMITS } from '../core/limits.js';
import type { MessageInfo } from './types.js';

export class MessageHistory {
  private current = new Map<number, MessageInfo>();
  private older = new Map<number, MessageInfo>();

  constructor(private readonly limit: number = LIMITS.MAX_MESSAGE_HISTORY) {}

  get size(): number {
    return this.current.size + this.older.size;
  }

  get(messageId: number): MessageInfo | undefined {
    return this.current.get(messageId) ?? this.older.get(messageId);
  }

  set(info: MessageInfo): void {
    this.older.delete(info.messageId);
    this.current.set(info.messageId, info);
    if (this.current.size * 2 >= this.limit) {
      this.older = this.current;
      this.current = new Map();
    }
  }

  *values(): IterableIterator<MessageInfo> {
    for (const info of this.older.values()) if (!this.current.has(info.messageId)) yield info;
    yield* this.current.values();
  }
}
