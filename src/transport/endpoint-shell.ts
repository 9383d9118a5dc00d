/**
 * What an endpoint is whatever carries its packets: the public MessageEndpoint API (connect,
 * disconnect, blacklist, peers, send/trySend/sendMany/writable, message states, stats, close), the
 * table of sessions by peer, the message table, the handler and its dispatch, state-change events and
 * the one coarse timer.
 *
 * Why a shell: the UDP endpoint (udp/endpoint.ts) and the TCP endpoint (tcp/tcp-endpoint.ts) differ in
 * how a session is opened and how its bytes travel (a datagram socket and a handshake over packets; a
 * listening socket and a handshake over frames), not in the contract the application programs
 * against. The shell keeps that contract once; a driver adds bind/listen, the receive path and its
 * half of the handshake through a few abstract methods, each a direct call (nothing per packet goes
 * through here but `dispatch`, once per message).
 */
import net from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { FerryError, type ErrorCode } from '../core/errors.js';
import { isLoopbackHost } from '../core/address.js';
import { LIMITS } from '../core/limits.js';
import type { TransportConfig } from './config.js';
import { HandshakeAuth, nextIncarnation } from './handshake-auth.js';
import { MessageTable } from './message-table.js';
import type { OutgoingMessage } from './outgoing-message.js';
import type { ArrivedMessage, SessionCore } from './session-core.js';
import { formatEndpointStats, sumPeerStats } from './stats.js';
import type {
  EndpointStats,
  IncomingMessage,
  MessageEndpoint,
  MessageHandler,
  MessageHandlerOptions,
  MessageInfo,
  Peer,
  PeerAddress,
  PeerInfo,
  PeerState,
  PeerStateChange,
  SendHandle,
  SendOptions,
  SendStatus,
} from './types.js';

export function addressKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The options every endpoint takes for its address and secret. */
export interface BindOptions {
  host?: string;
  port?: number;
  secret?: string | Buffer;
  insecure?: boolean;
  /**
   * Seal every packet with an AEAD under per-session keys (default true). false exists for
   * benchmarks only and is refused on a non-loopback address.
   */
  encrypt?: boolean;
}

/** A checked local address and secret. */
export interface BindPlan {
  host: string;
  port: number;
  family: 4 | 6;
  secret: Buffer | null;
  encrypt: boolean;
}

/**
 * Checks where an endpoint may bind (or listen: `what` says which, for the messages). Throws
 * INVALID_ARGUMENT, INSECURE_BIND (no secret, or encryption off, on a non-loopback address).
 */
export function planBind(options: BindOptions, what: string): BindPlan {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const family = net.isIP(host);
  if (family === 0) {
    throw new FerryError('INVALID_ARGUMENT', `host must be an IPv4 or IPv6 address, got "${host}"`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FerryError('INVALID_ARGUMENT', `port must be 0..65535, got ${port}`);
  }
  const secret = readSecret(options.secret);
  if (!secret && !options.insecure && !isLoopbackHost(host)) {
    throw new FerryError(
      'INSECURE_BIND',
      `${what} ${host} needs a secret: pass secret (or FERRY_SECRET / --secret-file), or insecure: true`,
    );
  }
  const encrypt = options.encrypt ?? true;
  if (!encrypt && !isLoopbackHost(host)) {
    throw new FerryError(
      'INSECURE_BIND',
      `${what} ${host} with encryption off is refused: --no-encrypt is for loopback benchmarks only; drop it`,
    );
  }
  return { host, port, family: family === 6 ? 6 : 4, secret, encrypt };
}

function readSecret(secret: string | Buffer | undefined): Buffer | null {
  if (secret === undefined) return null;
  const buf = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (buf.length === 0) throw new FerryError('INVALID_ARGUMENT', 'secret must not be empty');
  return buf;
}

export abstract class EndpointShell<S extends SessionCore> implements MessageEndpoint {
  readonly address: PeerAddress;
  /** This endpoint's incarnation: grows with every restart, so peers recognise a new life. */
  readonly incarnation: number;
  protected readonly auth: HandshakeAuth;

  protected readonly sessionsByAddress = new Map<string, S>();
  /** What is kept of ended sessions (for `peers({ includeInactive: true })` and stats), oldest first. */
  protected readonly inactive: PeerInfo[] = [];
  protected readonly blacklisted = new Set<string>();
  protected timer: TimerHandle | null = null;
  protected timerDueMs = Infinity;

  protected handler: MessageHandler | null = null;
  private readonly listeners = new Set<(c: PeerStateChange) => void>();
  /** Messages by id: those in play and the most recent finished ones. */
  protected readonly messages = new MessageTable();
  private nextMessageId = 1;
  protected closed = false;

  protected readonly counters = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0 };
  protected readonly dropped: EndpointStats['dropped'] = {
    malformed: 0,
    badChecksum: 0,
    badSeal: 0,
    replayed: 0,
    badVersion: 0,
    unknownSession: 0,
    unauthenticated: 0,
    staleIncarnation: 0,
    blacklisted: 0,
    overLimit: 0,
  };

  protected constructor(
    readonly config: TransportConfig,
    protected readonly clock: Clock,
    protected readonly family: 4 | 6,
    bound: { address: string; port: number },
    secret: Buffer | null,
    /** How the endpoint holds its address, for messages ('is bound to', 'listens on'). */
    private readonly boundWording: string,
  ) {
    this.auth = new HandshakeAuth(secret);
    this.address = { host: bound.address, port: bound.port };
    this.incarnation = nextIncarnation();
  }

  // ------------------------------------------------------------------ what a driver adds

  /** Opens a session to `addr` (connect found none); the handshake starts. */
  protected abstract startClientSession(addr: PeerAddress, key: string): S;
  /** Ends `session` for blacklisting, telling the peer when it can. */
  protected abstract blacklistSession(session: S): void;
  /** Drops the half-open handshakes from `key`. */
  protected abstract dropPendingFrom(key: string): void;
  /** The timer's work. */
  protected abstract readonly onTick: () => void;
  /** How soon the timer must run while a disconnect waits for its CLOSE to be answered. */
  protected abstract readonly closeTickMs: number;
  /** Lets the socket(s) go once every session ended. */
  protected abstract closeTransport(): Promise<void>;
  /** The session's own indexes (beyond the address) forget it. */
  protected abstract forgetSession(session: S, quietly: boolean): void;
  /** The label `formatStats` starts with. */
  protected abstract statsLabel(): string;

  /** The clock reading a message queued now is stamped with. */
  protected sendNowMs(): number {
    return this.clock.nowMs();
  }

  /** Sessions count the packets (frames) they receive; the endpoint counts only its own (TCP). */
  protected readonly sessionsCountReceived: boolean = false;

  // ================================================================== peers API

  async connect(address: PeerAddress): Promise<Peer> {
    this.checkOpen();
    const addr = this.checkAddress(address);
    const key = addressKey(addr.host, addr.port);
    if (this.blacklisted.has(key))
      throw new FerryError('PEER_BLACKLISTED', `${key} is blacklisted: unblacklist it first`);
    let session = this.sessionsByAddress.get(key);
    if (session && session.state === 'closing') session = undefined;
    if (!session) {
      this.checkPeerRoom();
      session = this.startClientSession(addr, key);
    }
    session.pinned = true;
    if (session.state === 'connected') return session.peer;
    const s = session;
    return new Promise<Peer>((resolve, reject) => s.connectWaiters.push({ resolve, reject }));
  }

  private checkPeerRoom(): void {
    if (this.sessionsByAddress.size < this.config.maxPeers) return;
    throw new FerryError(
      'TOO_MANY_PEERS',
      `this endpoint holds maxPeers (${this.config.maxPeers}) peers already`,
    );
  }

  async disconnect(peer: Peer): Promise<void> {
    const session = this.sessionOf(peer);
    if (!session || session.ended) return;
    if (session.state === 'connecting') return session.end('closed', 'NOT_CONNECTED');
    if (session.state === 'connected') session.beginClose(this.clock.nowMs());
    if (session.ended) return;
    this.ensureTimer(this.closeTickMs);
    await new Promise<void>((resolve, reject) => session.closeWaiters.push({ resolve, reject }));
  }

  blacklist(address: PeerAddress): void {
    const addr = this.checkAddress(address);
    const key = addressKey(addr.host, addr.port);
    this.blacklisted.add(key);
    const session = this.sessionsByAddress.get(key);
    if (session) this.blacklistSession(session);
    this.dropPendingFrom(key);
  }

  unblacklist(address: PeerAddress): void {
    const addr = this.checkAddress(address);
    this.blacklisted.delete(addressKey(addr.host, addr.port));
  }

  peers(opts: { includeInactive?: boolean } = {}): PeerInfo[] {
    const out = [...this.sessionsByAddress.values()].map((s) => s.info());
    if (opts.includeInactive) out.push(...this.inactive);
    return out;
  }

  onMessage(handler: MessageHandler, opts: MessageHandlerOptions = {}): void {
    this.handler = handler;
    this.onPayloadReuse(opts.reusePayloads === true);
    for (const s of this.sessionsByAddress.values()) if (s.state === 'connected') s.enableDelivery();
  }

  /** The handler lends payloads back (or not): a transport that can reuse buffers turns it on. */
  protected onPayloadReuse(_on: boolean): void {}

  onPeerState(listener: (change: PeerStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ================================================================== sending

  trySend(
    peer: Peer,
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle | SendStatus {
    const pieces = payload instanceof Uint8Array ? [payload] : payload;
    const size = sizeOf(pieces);
    const status = this.refusal(peer, size);
    if (status) return status;
    return this.enqueue(this.sessionOf(peer)!, pieces, size, opts);
  }

  send(peer: Peer, payload: Uint8Array | readonly Uint8Array[], opts?: SendOptions): SendHandle {
    const result = this.trySend(peer, payload, opts);
    if (typeof result === 'string') throw new FerryError(result, undefined, { peer: peer.id });
    return result;
  }

  sendMany(
    peers: readonly Peer[],
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle[] {
    const pieces = payload instanceof Uint8Array ? [payload] : payload;
    const size = sizeOf(pieces);
    for (const peer of peers) {
      const status = this.refusal(peer, size);
      if (status) throw new FerryError(status, undefined, { peer: peer.id });
    }
    return peers.map((peer) => this.enqueue(this.sessionOf(peer)!, pieces, size, opts));
  }

  writable(peer: Peer): Promise<void> {
    if (this.closed) return Promise.reject(new FerryError('CLOSED'));
    const session = this.sessionOf(peer);
    if (!session) return Promise.reject(new FerryError('NOT_CONNECTED', undefined, { peer: peer.id }));
    return session.writable();
  }

  private refusal(peer: Peer, size: number): SendStatus | null {
    if (this.closed) return 'CLOSED';
    const session = this.sessionOf(peer);
    if (!session) return 'NOT_CONNECTED';
    return session.refusal(size);
  }

  private enqueue(session: S, pieces: readonly Uint8Array[], size: number, opts?: SendOptions): SendHandle {
    const mode = opts?.mode ?? 'unordered';
    if (mode !== 'unordered' && mode !== 'fifo') {
      throw new FerryError('INVALID_ARGUMENT', `mode must be 'unordered' or 'fifo', got ${String(mode)}`);
    }
    const msg = session.enqueue(this.nextMessageId++, mode, pieces, size, this.sendNowMs());
    this.messages.add(msg);
    return msg;
  }

  messageState(messageId: number): MessageInfo | undefined {
    return this.messages.get(messageId)?.info();
  }

  messageStates(messageIds: readonly number[]): (MessageInfo | undefined)[] {
    return messageIds.map((id) => this.messageState(id));
  }

  messagesOf(peer: Peer): MessageInfo[] {
    const out: MessageInfo[] = [];
    for (const msg of this.messages.values()) if (msg.peerId === peer.id) out.push(msg.info());
    return out.sort((a, b) => a.messageId - b.messageId);
  }

  // ================================================================== stats

  stats(): EndpointStats {
    const all = [...this.sessionsByAddress.values()].map((s) => s.snapshot());
    for (const info of this.inactive) all.push(info.stats);
    const totals = sumPeerStats(all);
    return {
      ...this.counters,
      packetsReceived:
        this.counters.packetsReceived + (this.sessionsCountReceived ? totals.packetsReceived : 0),
      dropped: { ...this.dropped },
      peers: this.sessionsByAddress.size,
      totals,
    };
  }

  formatStats(): string {
    const peers = [...this.sessionsByAddress.values()].map((s) => ({
      id: s.id,
      state: s.state,
      stats: s.snapshot(),
    }));
    return formatEndpointStats(this.statsLabel(), this.stats(), peers);
  }

  // ================================================================== close

  async close(): Promise<void> {
    if (this.closed) return;
    const sessions = [...this.sessionsByAddress.values()];
    await Promise.all(sessions.map((s) => this.disconnect(s.peer).catch(() => undefined)));
    this.closed = true;
    for (const s of this.sessionsByAddress.values()) s.end('closed', 'CLOSED');
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    await this.closeTransport();
  }

  protected checkOpen(): void {
    if (this.closed) throw new FerryError('CLOSED', 'the endpoint is closed: create a new one');
  }

  protected checkAddress(address: PeerAddress): PeerAddress {
    const family = net.isIP(address?.host ?? '');
    if (family === 0)
      throw new FerryError('INVALID_ARGUMENT', `peer host must be an IP address, got "${address?.host}"`);
    if (family !== this.family) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `peer ${address.host} is IPv${family} but this endpoint ${this.boundWording} IPv${this.family}`,
      );
    }
    if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
      throw new FerryError('INVALID_ARGUMENT', `peer port must be 1..65535, got ${address.port}`);
    }
    return { host: address.host, port: address.port };
  }

  protected sessionOf(peer: Peer): S | undefined {
    const s = this.sessionsByAddress.get(peer.id);
    return s && s.peer === peer ? s : undefined;
  }

  // ================================================================== what sessions call (CoreHost)

  hasHandler(): boolean {
    return this.handler !== null;
  }

  dispatch(session: S, msg: ArrivedMessage): boolean {
    const handler = this.handler;
    if (!handler) return true; // cannot happen: delivery is enabled only once a handler is set
    const incoming: IncomingMessage = {
      peer: session.peer,
      messageId: msg.seq,
      mode: msg.mode,
      payload: msg.payload,
    };
    let result: void | Promise<void>;
    try {
      result = handler(incoming);
    } catch {
      return true; // the handler finished (badly); the message counts as delivered
    }
    if (!result || typeof (result as Promise<void>).then !== 'function') return true;
    const done = (): void => {
      if (!session.ended) session.handled(msg);
    };
    (result as Promise<void>).then(done, done);
    return false;
  }

  onStateChange(session: S, previous: PeerState, reason: ErrorCode | undefined): void {
    if (session.ended) this.removeSession(session);
    const change: PeerStateChange = { peer: session.peer, previous, state: session.state };
    if (reason) change.reason = reason;
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own; the transport goes on
      }
    }
  }

  onMessageFinished(msg: OutgoingMessage): void {
    this.messages.onFinished(msg);
  }

  // ================================================================== session table

  protected addSession(session: S): void {
    this.sessionsByAddress.set(session.id, session);
  }

  private removeSession(session: S): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    this.forgetSession(session, false);
    for (const msg of session.messages()) this.onMessageFinished(msg);
    // what is kept of an ended session is its info, not the session: its windows, packet log and
    // buffers (megabytes) go with it, so peers that come and go cannot pin memory here
    this.inactive.push(session.info());
    if (this.inactive.length > LIMITS.MAX_INACTIVE_PEERS) this.inactive.shift();
  }

  /** Drops a session without events (its role is taken over by another one). */
  protected removeQuietly(session: S): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    this.forgetSession(session, true);
    session.state = 'closed';
  }

  /**
   * The session a newly accepted one replaces, if any: a client session still connecting to the same
   * peer (both sides connected at once) hands its waiting `connect` calls over; any other one ends.
   */
  protected takeOver(
    old: S | undefined,
    endMessage?: string,
  ): { waiters: S['connectWaiters']; pinned: boolean } {
    if (!old || old.ended) return { waiters: [], pinned: false };
    if (old.role === 'client' && old.state === 'connecting') {
      const taken = { waiters: old.connectWaiters.splice(0), pinned: old.pinned };
      this.removeQuietly(old);
      return taken;
    }
    old.end('reset', 'PEER_RESET', endMessage); // the peer restarted (or reconnected): its old state goes
    return { waiters: [], pinned: false };
  }

  // ================================================================== timer

  protected ensureTimer(delayMs: number): void {
    if (this.closed) return;
    const due = this.clock.nowMs() + delayMs;
    if (this.timer && this.timerDueMs <= due) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timerDueMs = due;
    this.timer = this.clock.setTimer(delayMs, this.onTick);
  }
}

function sizeOf(pieces: readonly Uint8Array[]): number {
  let size = 0;
  for (const p of pieces) {
    if (!(p instanceof Uint8Array))
      throw new FerryError('INVALID_ARGUMENT', 'payload must be a Uint8Array or an array of them');
    size += p.length;
  }
  return size;
}
