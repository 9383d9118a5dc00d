/**
 * The server's download read buffers, shared fairly: a per-peer cap on how many one peer may hold,
 * and a deadline by which a reply handed to the network must be received, or its buffer is taken
 * back.
 *
 * Why: a read reply holds its pooled buffer until the peer's endpoint has every packet of it (the
 * transport may retransmit from it). A client that asks for reads and never takes the replies
 * would otherwise pin every buffer of the pool and stall every other client's downloads. With
 * SERVER_READ_BUFFERS_PER_PEER one peer holds at most a quarter of the pool (its further reads
 * wait: throttled, not refused), and with SERVER_READ_RELEASE_MS a reply still not received by
 * then is given up: its buffer is written off and replaced in the pool (the transport may still
 * point at it), and the peer is reported overdue; the server then fails its downloads and ends its
 * session, which drops the replies the transport still holds for it.
 *
 * No allocation per read: each buffer has one slot, made the first time the buffer is handed out,
 * whose callbacks (received, deadline) are made once with it.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { SendHandle } from '../../transport/types.js';
import type { WaitingPool } from '../waiting-pool.js';
import type { PeerSession } from './peer-session.js';

/** One pooled buffer's current use. */
interface Slot {
  buf: Buffer;
  session: PeerSession | null;
  timer: TimerHandle | null;
  /** Called when the reply was received (or failed): gives the buffer back. */
  done: () => void;
  /** Called at the deadline: writes the buffer off. */
  overdue: () => void;
}

export class ReadBuffers {
  private readonly slots = new Map<Buffer, Slot>();

  constructor(
    private readonly pool: WaitingPool,
    private readonly clock: Clock,
    /** Called once per buffer written off, with the peer that held it. */
    private readonly onOverdue: (session: PeerSession) => void,
    private readonly perPeer: number = TRANSFER_LIMITS.SERVER_READ_BUFFERS_PER_PEER,
    private readonly deadlineMs: number = TRANSFER_LIMITS.SERVER_READ_RELEASE_MS,
  ) {}

  /** A buffer for one of `session`'s reads: waits while the peer holds its cap, then for the pool. */
  async acquire(session: PeerSession): Promise<Buffer> {
    while (session.readBuffers >= this.perPeer) {
      if (session.closed) throw new FerryError('NOT_CONNECTED', 'the peer session ended');
      await new Promise<void>((r) => session.readWaiters.push(r));
    }
    if (session.closed) throw new FerryError('NOT_CONNECTED', 'the peer session ended');
    session.readBuffers++;
    try {
      return this.pool.tryAcquire() ?? (await this.pool.acquire());
    } catch (err) {
      this.uncount(session);
      throw err;
    }
  }

  /** Gives back a buffer that was never handed to the network. */
  release(session: PeerSession, buf: Buffer): void {
    this.pool.release(buf);
    this.uncount(session);
  }

  /** The reply in `buf` went out as `handle`: back to the pool once received, or at the deadline. */
  handOff(session: PeerSession, buf: Buffer, handle: SendHandle): void {
    const slot = this.slotOf(buf);
    slot.session = session;
    slot.timer = this.clock.setTimer(this.deadlineMs, slot.overdue);
    handle.received.then(slot.done, slot.done);
  }

  /** Disarms every deadline (the server is closing; its sessions are dropped next). */
  close(): void {
    for (const slot of this.slots.values()) {
      if (slot.timer !== null) this.clock.clearTimer(slot.timer);
      slot.timer = null;
    }
  }

  private slotOf(buf: Buffer): Slot {
    const known = this.slots.get(buf);
    if (known) return known;
    const s: Slot = {
      buf,
      session: null,
      timer: null,
      done: () => this.finish(s),
      overdue: () => this.writeOff(s),
    };
    this.slots.set(buf, s);
    return s;
  }

  private finish(slot: Slot): void {
    const session = slot.session;
    if (session === null) return; // written off at its deadline already
    if (slot.timer !== null) this.clock.clearTimer(slot.timer);
    slot.timer = null;
    slot.session = null;
    this.pool.release(slot.buf);
    this.uncount(session);
  }

  private writeOff(slot: Slot): void {
    const session = slot.session;
    if (session === null) return;
    slot.timer = null;
    slot.session = null;
    this.slots.delete(slot.buf);
    this.pool.replace(slot.buf);
    this.uncount(session);
    this.onOverdue(session);
  }

  private uncount(session: PeerSession): void {
    session.readBuffers--;
    session.readWaiters.shift()?.();
  }
}
