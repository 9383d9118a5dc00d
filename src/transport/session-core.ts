/**
 * What a session is whatever carries its packets: the peer's identity, the session's states and its
 * one end, the queue of messages this side sent (with their `writable` and timeout rules), the
 * waiting `connect`/`disconnect` calls, stats and the peer's public view.
 *
 * Why a shared core: the UDP session (udp/session.ts) and the TCP session (tcp/tcp-session.ts)
 * differ in how bytes reach the peer (packets, acks and windows over datagrams; frames over a
 * stream) but not in what a session promises the application. Keeping those promises in one class
 * means a session's end fails every waiting promise with the same typed error on both transports,
 * and a rule (a message's deadline, back-pressure wake-ups) cannot drift between two copies. The
 * core holds no globals: its config, its time (every call takes `nowMs`) and its endpoint (`host`)
 * are handed in, so a session may run in any thread.
 */
import { FerryError, type ErrorCode } from '../core/errors.js';
import { fifoSeqAfter } from '../wire/sequence.js';
import type { TransportConfig } from './config.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { zeroPeerStats } from './stats.js';
import type { DeliveryMode, Peer, PeerAddress, PeerInfo, PeerState, PeerStats } from './types.js';

/** A message that arrived whole and waits for (or is in) the application's handler. */
export interface ArrivedMessage {
  readonly seq: number;
  readonly mode: DeliveryMode;
  readonly payload: Buffer;
}

/** What every session needs from its endpoint (the endpoint shell implements it). */
export interface CoreHost<S extends SessionCore = SessionCore> {
  readonly config: TransportConfig;
  /** True once the application set a message handler (until then complete messages wait). */
  hasHandler(): boolean;
  /** Hands a complete message to the application; true when the handler already finished. */
  dispatch(session: S, msg: ArrivedMessage): boolean;
  onStateChange(session: S, previous: PeerState, reason: ErrorCode | undefined): void;
  /** A message finished (delivered or failed): keep its final state for queries. */
  onMessageFinished(msg: OutgoingMessage): void;
}

/** The application's handle on a session (types.ts `Peer`). */
export class PeerHandle implements Peer {
  constructor(private readonly session: SessionCore) {}
  get id(): string {
    return this.session.id;
  }
  get address(): PeerAddress {
    return this.session.address;
  }
  get state(): PeerState {
    return this.session.state;
  }
}

export interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export type EndState = 'closed' | 'dead' | 'reset' | 'blacklisted';

/** Messages in play are scanned for their deadline at most this often. */
const TIMEOUT_SCAN_MS = 50;

const ENDED: ReadonlySet<PeerState> = new Set(['closed', 'dead', 'reset', 'blacklisted']);

export abstract class SessionCore {
  readonly peer: PeerHandle;
  state: PeerState = 'connecting';
  endReason: ErrorCode | undefined;
  protected endMessage: string | undefined;
  pinned = false;
  remoteConnectionId = 0n;
  remoteIncarnation = 0;
  readonly stats: PeerStats = zeroPeerStats();

  /** Pending `connect` calls; they get this session's Peer (a simultaneous connect may hand them over). */
  readonly connectWaiters: { resolve: (peer: Peer) => void; reject: (e: Error) => void }[] = [];
  closeWaiters: Waiter[] = [];
  protected readonly writableWaiters: Waiter[] = [];
  protected closeStartedMs = 0;

  // --- messages out (sequence order; `outHead` is the oldest not retired) ---
  protected readonly outgoing: OutgoingMessage[] = [];
  protected outHead = 0;
  protected nextSeq = 1;
  private nextFifoSeq = 1;
  protected queuedBytes = 0;
  private lastMessageTimeoutScanMs = 0;
  /** Payload bytes this side copied for its messages (into packets, or to own a timed-out one). */
  protected copiedOutBytes = 0;

  constructor(
    protected readonly host: CoreHost,
    readonly id: string,
    readonly address: PeerAddress,
    readonly role: 'client' | 'server',
    readonly localConnectionId: bigint,
  ) {
    this.peer = new PeerHandle(this);
  }

  get ended(): boolean {
    return ENDED.has(this.state);
  }

  // ------------------------------------------------------------------ what each transport adds

  /** Why a message of `sizeBytes` cannot be queued now, or null when it can. */
  abstract refusal(sizeBytes: number): 'BACK_PRESSURED' | 'NOT_CONNECTED' | 'MESSAGE_TOO_LARGE' | null;
  /** Queues a message (the endpoint checked `refusal` first). */
  abstract enqueue(
    messageId: number,
    mode: DeliveryMode,
    pieces: readonly Uint8Array[],
    sizeBytes: number,
    nowMs: number,
  ): OutgoingMessage;
  /** Starts handing complete messages to the application (once it has a handler). */
  abstract enableDelivery(): void;
  /** The application's handler finished with `msg` (asynchronously). */
  abstract handled(msg: ArrivedMessage): void;
  /** Periodic work (resends, timeouts, heartbeats). */
  abstract tick(nowMs: number): void;
  /** Back-pressured for a message the size of the last one refused. */
  protected abstract wouldRefuse(): boolean;
  /** The graceful close began (state is `closing`): tell the peer. */
  protected abstract startClosing(nowMs: number): void;
  /** The session ends: let go of the transport's state (packet log, inbox, socket). */
  protected abstract release(state: EndState): void;
  /** Every outgoing message was dropped: reset the transport's send cursors. */
  protected abstract clearSendState(): void;

  // ------------------------------------------------------------------ states

  setConnected(): void {
    if (this.state !== 'connecting') return;
    this.setState('connected', undefined);
    for (const w of this.connectWaiters.splice(0)) w.resolve(this.peer);
    if (this.host.hasHandler()) this.enableDelivery();
  }

  /** Starts a graceful close: messages in play fail with NOT_CONNECTED, the peer is told. */
  beginClose(nowMs: number): void {
    if (this.state !== 'connected') return;
    this.failOutgoing('NOT_CONNECTED', 'the session was closed');
    this.setState('closing', undefined);
    this.closeStartedMs = nowMs;
    this.startClosing(nowMs);
  }

  protected setState(state: PeerState, reason: ErrorCode | undefined): void {
    const previous = this.state;
    if (previous === state) return;
    this.state = state;
    this.host.onStateChange(this, previous, reason);
  }

  endError(): Error {
    const code = this.endReason ?? 'NOT_CONNECTED';
    return new FerryError(code, this.endMessage, { peer: this.id });
  }

  /** Ends the session: every waiting promise fails with `reason`. Idempotent. */
  end(state: EndState, reason: ErrorCode, message?: string): void {
    if (this.ended) return;
    this.endReason = reason;
    this.endMessage = message;
    const err = this.endError();
    this.failOutgoing(reason === 'HANDSHAKE_TIMEOUT' ? 'NOT_CONNECTED' : reason, err.message);
    this.release(state);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    for (const w of this.writableWaiters.splice(0)) w.reject(err);
    this.setState(state, reason);
    for (const w of this.closeWaiters.splice(0)) w.resolve();
  }

  private failOutgoing(code: ErrorCode, message: string): void {
    for (let i = this.outHead; i < this.outgoing.length; i++) {
      const msg = this.outgoing[i]!;
      if (msg.retired) continue;
      if (!msg.finished) this.stats.messagesFailed++;
      msg.fail(code, message, true);
      this.host.onMessageFinished(msg);
    }
    this.outgoing.length = 0;
    this.outHead = 0;
    this.queuedBytes = 0;
    this.clearSendState();
  }

  // ------------------------------------------------------------------ messages out

  /** The queue's checks both transports share: state, size, the message window. */
  protected baseRefusal(sizeBytes: number): 'BACK_PRESSURED' | 'NOT_CONNECTED' | 'MESSAGE_TOO_LARGE' | null {
    const c = this.host.config;
    if (this.state !== 'connected') return 'NOT_CONNECTED';
    if (sizeBytes > c.maxMessageBytes) return 'MESSAGE_TOO_LARGE';
    if (this.nextSeq - this.oldestSeq() >= c.maxQueuedMessages) return 'BACK_PRESSURED';
    return null;
  }

  /**
   * The sequence of the oldest message not yet finished (the next one when none is): the base of the
   * window the peer's delivered reports lie in.
   */
  protected oldestSeq(): number {
    return this.outHead < this.outgoing.length ? this.outgoing[this.outHead]!.seq : this.nextSeq;
  }

  /** The next FIFO sequence (a full number; fifoSeqAfter skips those whose wire value is 0). */
  protected takeFifoSeq(): number {
    const seq = this.nextFifoSeq;
    this.nextFifoSeq = fifoSeqAfter(seq);
    return seq;
  }

  /** Outstanding (not finished) messages, oldest first. */
  messages(): OutgoingMessage[] {
    return this.outgoing.slice(this.outHead);
  }

  writable(): Promise<void> {
    if (this.ended) return Promise.reject(this.endError());
    if (!this.wouldRefuse()) return Promise.resolve();
    return new Promise((resolve, reject) => this.writableWaiters.push({ resolve, reject }));
  }

  protected wakeWritable(): void {
    if (this.writableWaiters.length === 0 || this.wouldRefuse()) return;
    for (const w of this.writableWaiters.splice(0)) w.resolve();
  }

  /** Fails, at most every 50 ms, the messages past their deadline (they stay in the sequence). */
  protected checkMessageTimeouts(nowMs: number): void {
    const limitMs = this.host.config.messageTimeoutMs;
    if (limitMs === 0 || nowMs - this.lastMessageTimeoutScanMs < TIMEOUT_SCAN_MS) return;
    this.lastMessageTimeoutScanMs = nowMs;
    for (let i = this.outHead; i < this.outgoing.length; i++) {
      const msg = this.outgoing[i]!;
      if (!msg.pastDeadline(nowMs, limitMs)) continue;
      // the wait ends; the transmission goes on, so the peer's view of the session stays consistent
      // (from the message's own copy of the bytes: its caller may reuse them once the promises fail)
      this.failTimedOut(msg, false);
      this.host.onMessageFinished(msg);
    }
  }

  /** Fails `msg` with MESSAGE_TIMEOUT; `delivered` when the peer already has it (nothing to copy). */
  protected failTimedOut(msg: OutgoingMessage, delivered: boolean): void {
    this.copiedOutBytes += msg.timeOut(this.host.config.messageTimeoutMs, delivered);
    this.stats.messagesFailed++;
  }

  // ------------------------------------------------------------------ views

  /** Stats with the message gauges filled in (each transport adds its own first). */
  snapshot(): PeerStats {
    const s = this.stats;
    s.messagesQueued = 0;
    s.messagesInFlight = 0;
    for (let i = this.outHead; i < this.outgoing.length; i++) {
      const msg = this.outgoing[i]!;
      if (msg.retired) continue;
      if (msg.state === 'queued') s.messagesQueued++;
      else s.messagesInFlight++;
    }
    return { ...s };
  }

  info(): PeerInfo {
    return {
      id: this.id,
      address: { ...this.address },
      state: this.state,
      pinned: this.pinned,
      localConnectionId: this.localConnectionId.toString(16).padStart(16, '0'),
      remoteConnectionId: this.remoteConnectionId.toString(16).padStart(16, '0'),
      remoteIncarnation: this.remoteIncarnation,
      stats: this.snapshot(),
    };
  }
}
