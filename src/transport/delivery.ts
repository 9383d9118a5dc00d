/**
 * The contract's delivery rule, once for both transports: unordered messages are handed to the
 * application as soon as they are complete, FIFO messages one at a time and in FIFO order (the next
 * one only once the handler of the previous one finished), and everything waits while there is no
 * handler (or while the owner holds hand-over back).
 *
 * Why one class: the UDP inbox (udp/inbox.ts) completes messages out of order from fragments, the TCP
 * inbox (tcp/tcp-inbox.ts) gets them whole and in order, but what the application sees must be the
 * same on both. The owner keeps its own books (reassembly budget and delivered states; held bytes and
 * DELIVERED ranges) in `onFinished`, called once per message handed over and finished.
 */
import { fifoSeqAfter } from '../wire/sequence.js';
import type { DeliveryMode } from './types.js';

/** What the rule needs of a message. */
export interface DeliverableMessage {
  readonly mode: DeliveryMode;
  /** Position in the sender's FIFO order (0 for unordered messages). */
  readonly fifoSeq: number;
}

/** Hands a message to the application; true when the handler already finished with it. */
export type DispatchFn<M> = (msg: M) => boolean;

export class DeliveryRule<M extends DeliverableMessage> {
  private dispatch: DispatchFn<M> | null = null;
  private readonly unorderedReady: M[] = [];
  private readonly fifoReady = new Map<number, M>();
  /** The FIFO sequence handed over next. */
  nextFifo = 1;
  private fifoBusy = false;
  private holding = false;
  private cleared = false;

  constructor(
    /** The message was handed over and its handler finished (at once or later). */
    private readonly onFinished: (msg: M) => void,
    /** A session ended by a handler stops the hand-over of the unordered messages after it too. */
    private readonly stopWhenCleared: boolean,
  ) {}

  /** Complete messages not yet handed over. */
  get waitingCount(): number {
    return this.fifoReady.size + this.unorderedReady.length;
  }

  /** Sets (or clears) where messages go, and hands over what is waiting. */
  setDispatch(dispatch: DispatchFn<M> | null): void {
    this.dispatch = dispatch;
    this.pump();
  }

  /** A message is complete: it goes now if the rule lets it. */
  ready(msg: M): void {
    if (msg.mode === 'fifo') this.fifoReady.set(msg.fifoSeq, msg);
    else this.unorderedReady.push(msg);
    this.pump();
  }

  /** Holds hand-over back (complete messages wait) until `resume`. */
  hold(): void {
    this.holding = true;
  }

  /** Ends a `hold` and hands over what completed meanwhile. */
  resume(): void {
    this.holding = false;
    if (this.unorderedReady.length > 0 || this.fifoReady.size > 0) this.pump();
  }

  /** The handler of `msg` settled (asynchronously). */
  onHandled(msg: M): void {
    this.finish(msg);
    this.pump();
  }

  /** The session ended: nothing more is handed over. */
  clear(): void {
    this.cleared = true;
    this.dispatch = null;
    this.fifoReady.clear();
    this.unorderedReady.length = 0;
  }

  /** Hands over every message that may go now (a loop, not recursion: FIFO chains can be long). */
  private pump(): void {
    const dispatch = this.dispatch;
    if (!dispatch || this.holding) return;
    if (this.unorderedReady.length > 0) {
      const ready = this.unorderedReady.splice(0); // take them all at once: no O(n) shift per message
      for (const msg of ready) {
        if (this.cleared && this.stopWhenCleared) return;
        if (dispatch(msg)) this.finish(msg);
      }
    }
    while (!this.fifoBusy && this.dispatch) {
      const next = this.fifoReady.get(this.nextFifo);
      if (!next) return;
      this.fifoReady.delete(this.nextFifo);
      this.fifoBusy = true;
      if (dispatch(next)) this.finish(next);
    }
  }

  private finish(msg: M): void {
    if (msg.mode === 'fifo') {
      this.fifoBusy = false;
      this.nextFifo = fifoSeqAfter(msg.fifoSeq);
    }
    this.onFinished(msg);
  }
}
