/**
 * `TcpEndpoint`: the MessageEndpoint contract (types.ts) over TCP, one connection per peer, for
 * networks that block UDP and as the in-process baseline of the UDP `Endpoint`.
 *
 * Why the same contract and not a stream API: the transfer engine, the benchmarks and the tests
 * program against MessageEndpoint, so switching transport is one option (`createEndpoint({ transport:
 * 'tcp' })`). A peer is named by its listening address (`host:port`), exchanged in the handshake, so a
 * session is the same whichever side connected. The handshake, authentication (pre-shared secret,
 * HMAC-SHA-256 challenge-response, handshake-auth.ts) and incarnation rules are those of the UDP
 * transport; TCP itself replaces the packet machinery, and failure detection is socket errors plus
 * heartbeats on idle connections. Frames are described in frame-layout.ts and docs/protocol.md.
 *
 * ```ts
 * const server = await TcpEndpoint.create({ port: 7000, secret: 's3cret' });
 * server.onMessage(async (m) => console.log(m.peer.id, m.payload.length));
 * const client = await TcpEndpoint.create({ secret: 's3cret' });
 * const peer = await client.connect({ host: '127.0.0.1', port: 7000 });
 * await client.send(peer, Buffer.from('hello')).delivered;
 * await client.close(); await server.close();
 * ```
 */
import net from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { FerryError, type ErrorCode } from '../../core/errors.js';
import { isLoopbackHost } from '../../core/address.js';
import { LIMITS } from '../../core/limits.js';
import {
  HandshakeAuth,
  nextIncarnation,
  randomConnectionId,
  randomNonce,
  type HandshakeTranscript,
} from '../handshake-auth.js';
import type { OutgoingMessage } from '../outgoing-message.js';
import { formatEndpointStats, sumPeerStats } from '../stats.js';
import type {
  EndpointStats,
  IncomingMessage,
  MessageEndpoint,
  MessageHandler,
  MessageInfo,
  Peer,
  PeerAddress,
  PeerInfo,
  PeerState,
  PeerStateChange,
  SendHandle,
  SendOptions,
  SendStatus,
} from '../types.js';
import {
  decodeConfirmBody,
  decodeHelloBody,
  encodeChallengeBody,
  encodeCloseBody,
  encodeFrame,
  encodeHelloBody,
} from './frame-codec.js';
import { CloseReason, FrameType, PROTOCOL_VERSION } from './frame-layout.js';
import { FrameReader, type FrameFields } from './frame-reader.js';
import { HeaderSlab } from './header-slab.js';
import { MessageTable } from '../message-table.js';
import { PendingConnection, type PendingHost } from './pending-connection.js';
import { readTcpConfig, type TcpConfig } from './tcp-config.js';
import type { HeldMessage } from './tcp-inbox.js';
import { TcpSession, type TcpSessionHost } from './tcp-session.js';

export interface TcpEndpointOptions {
  /** Address to listen on: IPv4 or IPv6 literal. Default '127.0.0.1'. */
  host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Pre-shared secret; both sides must have the same. Needed to listen on a non-loopback address. */
  secret?: string | Buffer;
  /** Allows a non-loopback listen without a secret (anyone can then talk to this endpoint). */
  insecure?: boolean;
  /** Transport settings (tcp-config.ts: the UDP settings plus tcpWriteQueueBytes), object or `key=value,...`. */
  config?: Partial<TcpConfig> | string;
  /** Time source; default the system clock. */
  clock?: Clock;
  /** Accepted for option compatibility with the UDP Endpoint; impairment is UDP-only (must be null or absent). */
  impair?: null;
}

const IDLE_TICK_MS = 50;

function addressKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The peer's address as the socket reports it, IPv4-mapped IPv6 written as IPv4. */
function plainHost(host: string | undefined): string {
  if (!host) return '';
  return host.startsWith('::ffff:') && net.isIPv4(host.slice(7)) ? host.slice(7) : host;
}

export class TcpEndpoint implements MessageEndpoint {
  readonly config: TcpConfig;
  readonly address: PeerAddress;
  /** This endpoint's incarnation: grows with every restart, so peers recognise a new life. */
  readonly incarnation: number;
  private readonly server: net.Server;
  private readonly family: 4 | 6;
  private readonly clock: Clock;
  private readonly auth: HandshakeAuth;
  private readonly slab = new HeaderSlab();
  private readonly host: TcpSessionHost;
  private readonly pendingHost: PendingHost;

  private readonly sessionsByAddress = new Map<string, TcpSession>();
  private readonly pending = new Set<PendingConnection>();
  private readonly inactive: TcpSession[] = [];
  private readonly blacklisted = new Set<string>();
  private readonly corked: TcpSession[] = [];
  private uncorkScheduled = false;
  private timer: TimerHandle | null = null;
  private timerDueMs = Infinity;

  private handler: MessageHandler | null = null;
  private readonly listeners = new Set<(c: PeerStateChange) => void>();
  /** Messages by id: those in play and the most recent finished ones. */
  private readonly messages = new MessageTable();
  private nextMessageId = 1;
  private closed = false;

  private readonly counters = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly dropped: EndpointStats['dropped'] = {
    malformed: 0,
    badChecksum: 0,
    badVersion: 0,
    unknownSession: 0,
    unauthenticated: 0,
    staleIncarnation: 0,
    blacklisted: 0,
    overLimit: 0,
  };

  private constructor(
    server: net.Server,
    family: 4 | 6,
    config: TcpConfig,
    clock: Clock,
    secret: Buffer | null,
  ) {
    this.server = server;
    this.family = family;
    this.config = config;
    this.clock = clock;
    this.auth = new HandshakeAuth(secret);
    const bound = server.address() as net.AddressInfo;
    this.address = { host: bound.address, port: bound.port };
    this.incarnation = nextIncarnation();
    this.host = {
      config,
      auth: this.auth,
      slab: this.slab,
      hasHandler: () => this.handler !== null,
      dispatch: (session, msg) => this.dispatch(session, msg),
      onStateChange: (session, previous, reason) => this.onStateChange(session, previous, reason),
      onMessageFinished: (msg) => this.onMessageFinished(msg),
      scheduleUncork: (session) => this.scheduleUncork(session),
      wakeIn: (delayMs) => this.ensureTimer(delayMs),
      countSent: (frames, bytes) => {
        this.counters.packetsSent += frames;
        this.counters.bytesSent += bytes;
      },
      countReceived: (bytes) => {
        this.counters.bytesReceived += bytes;
      },
      countDrop: (reason) => {
        this.dropped[reason]++;
      },
      nowMs: () => this.clock.nowMs(),
    };
    this.pendingHost = {
      onPendingFrame: (p, frame, body) => this.onPendingFrame(p, frame, body),
      onPendingError: (p, status) => {
        this.dropped[
          status === 'badMagic' ? 'badVersion' : status === 'tooLarge' ? 'overLimit' : 'malformed'
        ]++;
        this.dropPending(p, CloseReason.PROTOCOL_ERROR);
      },
      onPendingGone: (p) => {
        this.pending.delete(p);
      },
    };
    server.on('connection', (socket) => this.onConnection(socket));
  }

  /** Listens and returns a ready endpoint. Throws INVALID_ARGUMENT, INVALID_CONFIG, INSECURE_BIND, BIND_FAILED. */
  static async create(options: TcpEndpointOptions = {}): Promise<TcpEndpoint> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    const family = net.isIP(host);
    if (family === 0) {
      throw new FerryError('INVALID_ARGUMENT', `host must be an IPv4 or IPv6 address, got "${host}"`);
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new FerryError('INVALID_ARGUMENT', `port must be 0..65535, got ${port}`);
    }
    if (options.impair !== undefined && options.impair !== null) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        'impairment works on UDP datagrams only: leave impair unset for the TCP transport (or use ferry impair)',
      );
    }
    const secret = TcpEndpoint.readSecret(options.secret);
    if (!secret && !options.insecure && !isLoopbackHost(host)) {
      throw new FerryError(
        'INSECURE_BIND',
        `listening on ${host} needs a secret: pass secret (or FERRY_SECRET / --secret-file), or insecure: true`,
      );
    }
    const config = readTcpConfig(options.config);
    const server = net.createServer({ noDelay: true, pauseOnConnect: false });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, ipv6Only: family === 6, backlog: 511 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      throw new FerryError(
        'BIND_FAILED',
        `could not listen on TCP ${addressKey(host, port)}: ${(err as Error).message}`,
        {},
        err,
      );
    }
    server.on('error', () => {
      // accept errors (EMFILE, ...) concern one connection; the endpoint goes on
    });
    return new TcpEndpoint(server, family === 6 ? 6 : 4, config, options.clock ?? systemClock, secret);
  }

  private static readSecret(secret: string | Buffer | undefined): Buffer | null {
    if (secret === undefined) return null;
    const buf = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (buf.length === 0) throw new FerryError('INVALID_ARGUMENT', 'secret must not be empty');
    return buf;
  }

  // ================================================================== peers API

  async connect(address: PeerAddress): Promise<Peer> {
    this.checkOpen();
    const addr = this.checkAddress(address);
    const key = addressKey(addr.host, addr.port);
    if (this.blacklisted.has(key))
      throw new FerryError('PEER_BLACKLISTED', `${key} is blacklisted: unblacklist it first`);
    let session = this.sessionsByAddress.get(key);
    if (session && session.state === 'closing') session = undefined;
    if (!session) session = this.startClientSession(addr, key);
    session.pinned = true;
    if (session.state === 'connected') return session.peer;
    const s = session;
    return new Promise<Peer>((resolve, reject) => s.connectWaiters.push({ resolve, reject }));
  }

  private startClientSession(addr: PeerAddress, key: string): TcpSession {
    if (this.sessionsByAddress.size >= this.config.maxPeers) {
      throw new FerryError(
        'TOO_MANY_PEERS',
        `this endpoint holds maxPeers (${this.config.maxPeers}) peers already`,
      );
    }
    const session = new TcpSession(this.host, key, addr, 'client', randomConnectionId(), this.clock.nowMs());
    session.localIncarnation = this.incarnation;
    session.clientNonce = randomNonce();
    this.addSession(session);
    const socket = net.connect({ host: addr.host, port: addr.port, noDelay: true });
    session.attach(socket, new FrameReader(this.config.maxMessageBytes, session));
    const hello = encodeFrame(
      FrameType.HELLO,
      0,
      0,
      encodeHelloBody({
        version: PROTOCOL_VERSION,
        listenPort: this.address.port,
        connectionId: session.localConnectionId,
        incarnation: this.incarnation,
        nonce: session.clientNonce,
      }),
    );
    socket.once('connect', () => {
      if (session.socket === socket) session.sendHello(hello);
    });
    this.ensureTimer(IDLE_TICK_MS);
    return session;
  }

  async disconnect(peer: Peer): Promise<void> {
    const session = this.sessionOf(peer);
    if (!session || session.ended) return;
    if (session.state === 'connecting') return session.end('closed', 'NOT_CONNECTED');
    if (session.state === 'connected') session.beginClose(this.clock.nowMs());
    if (session.ended) return;
    this.ensureTimer(IDLE_TICK_MS);
    await new Promise<void>((resolve, reject) => session.closeWaiters.push({ resolve, reject }));
  }

  blacklist(address: PeerAddress): void {
    const addr = this.checkAddress(address);
    const key = addressKey(addr.host, addr.port);
    this.blacklisted.add(key);
    this.sessionsByAddress.get(key)?.closeWith(CloseReason.BLACKLISTED, 'blacklisted', 'PEER_BLACKLISTED');
    for (const p of this.pending) if (p.key === key) this.dropPending(p, CloseReason.BLACKLISTED);
  }

  unblacklist(address: PeerAddress): void {
    const addr = this.checkAddress(address);
    this.blacklisted.delete(addressKey(addr.host, addr.port));
  }

  peers(opts: { includeInactive?: boolean } = {}): PeerInfo[] {
    const out = [...this.sessionsByAddress.values()].map((s) => s.info());
    if (opts.includeInactive) for (const s of this.inactive) out.push(s.info());
    return out;
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
    for (const s of this.sessionsByAddress.values()) if (s.state === 'connected') s.enableDelivery();
  }

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
    const size = TcpEndpoint.sizeOf(pieces);
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
    const size = TcpEndpoint.sizeOf(pieces);
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

  private enqueue(
    session: TcpSession,
    pieces: readonly Uint8Array[],
    size: number,
    opts?: SendOptions,
  ): SendHandle {
    const mode = opts?.mode ?? 'unordered';
    if (mode !== 'unordered' && mode !== 'fifo') {
      throw new FerryError('INVALID_ARGUMENT', `mode must be 'unordered' or 'fifo', got ${String(mode)}`);
    }
    const msg = session.enqueue(this.nextMessageId++, mode, pieces, size, this.clock.nowMs());
    this.messages.add(msg);
    return msg;
  }

  private static sizeOf(pieces: readonly Uint8Array[]): number {
    let size = 0;
    for (const p of pieces) {
      if (!(p instanceof Uint8Array))
        throw new FerryError('INVALID_ARGUMENT', 'payload must be a Uint8Array or an array of them');
      size += p.length;
    }
    return size;
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
    const all = [...this.sessionsByAddress.values(), ...this.inactive].map((s) => s.snapshot());
    const totals = sumPeerStats(all);
    return {
      ...this.counters,
      packetsReceived: this.counters.packetsReceived + totals.packetsReceived,
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
    return formatEndpointStats(
      `tcp ${addressKey(this.address.host, this.address.port)}`,
      this.stats(),
      peers,
    );
  }

  /** What the endpoint holds, for leak checks: sessions, half-open connections, unhandled messages. */
  memoryStats(): {
    sessions: number;
    pendingHandshakes: number;
    heldMessages: number;
    heldBytes: number;
    partialFrameBytes: number;
    liveMessages: number;
  } {
    let heldMessages = 0;
    let heldBytes = 0;
    let partialFrameBytes = 0;
    for (const s of this.sessionsByAddress.values()) {
      heldMessages += s.inbox.heldCount;
      heldBytes += s.inbox.heldBytes;
      partialFrameBytes += s.reader?.pendingBytes ?? 0;
    }
    for (const p of this.pending) partialFrameBytes += p.reader.pendingBytes;
    return {
      sessions: this.sessionsByAddress.size,
      pendingHandshakes: this.pending.size,
      heldMessages,
      heldBytes,
      partialFrameBytes,
      liveMessages: this.messages.liveCount,
    };
  }

  // ================================================================== close

  async close(): Promise<void> {
    if (this.closed) return;
    const sessions = [...this.sessionsByAddress.values()];
    await Promise.all(sessions.map((s) => this.disconnect(s.peer).catch(() => undefined)));
    this.closed = true;
    for (const s of this.sessionsByAddress.values()) s.end('closed', 'CLOSED');
    for (const p of this.pending) p.socket.destroy();
    this.pending.clear();
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private checkOpen(): void {
    if (this.closed) throw new FerryError('CLOSED', 'the endpoint is closed: create a new one');
  }

  private checkAddress(address: PeerAddress): PeerAddress {
    const family = net.isIP(address?.host ?? '');
    if (family === 0)
      throw new FerryError('INVALID_ARGUMENT', `peer host must be an IP address, got "${address?.host}"`);
    if (family !== this.family) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `peer ${address.host} is IPv${family} but this endpoint listens on IPv${this.family}`,
      );
    }
    if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
      throw new FerryError('INVALID_ARGUMENT', `peer port must be 1..65535, got ${address.port}`);
    }
    return { host: address.host, port: address.port };
  }

  private sessionOf(peer: Peer): TcpSession | undefined {
    const s = this.sessionsByAddress.get(peer.id);
    return s && s.peer === peer ? s : undefined;
  }

  // ================================================================== session host

  private dispatch(session: TcpSession, msg: HeldMessage): boolean {
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
      if (!session.ended) session.inbox.onHandled(msg);
    };
    (result as Promise<void>).then(done, done);
    return false;
  }

  private scheduleUncork(session: TcpSession): void {
    this.corked.push(session);
    if (this.uncorkScheduled) return;
    this.uncorkScheduled = true;
    process.nextTick(this.uncorkAll);
  }

  private readonly uncorkAll = (): void => {
    this.uncorkScheduled = false;
    for (let i = 0; i < this.corked.length; i++) this.corked[i]!.uncork();
    this.corked.length = 0;
  };

  private onStateChange(session: TcpSession, previous: PeerState, reason: ErrorCode | undefined): void {
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

  private onMessageFinished(msg: OutgoingMessage): void {
    this.messages.onFinished(msg);
  }

  private addSession(session: TcpSession): void {
    this.sessionsByAddress.set(session.id, session);
  }

  private removeSession(session: TcpSession): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    for (const msg of session.messages()) this.onMessageFinished(msg);
    this.inactive.push(session);
    if (this.inactive.length > LIMITS.MAX_INACTIVE_PEERS) this.inactive.shift();
  }

  /** Drops a session without events (a simultaneous connect: another session takes its place). */
  private removeQuietly(session: TcpSession): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    session.detach();
    session.state = 'closed';
  }

  // ================================================================== timer

  private ensureTimer(delayMs: number): void {
    if (this.closed) return;
    const due = this.clock.nowMs() + delayMs;
    if (this.timer && this.timerDueMs <= due) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timerDueMs = due;
    this.timer = this.clock.setTimer(delayMs, this.onTick);
  }

  private readonly onTick = (): void => {
    this.timer = null;
    this.timerDueMs = Infinity;
    if (this.closed) return;
    const now = this.clock.nowMs();
    for (const s of [...this.sessionsByAddress.values()]) s.tick(now);
    for (const p of this.pending) {
      if (now - p.createdMs > this.config.handshakeTimeoutMs) this.dropPending(p, -1);
    }
    if (this.sessionsByAddress.size > 0 || this.pending.size > 0) {
      this.ensureTimer(
        Math.min(IDLE_TICK_MS, this.config.heartbeatStartMs, this.config.heartbeatIntervalMs / 4),
      );
    }
  };

  // ================================================================== handshake, server side

  private onConnection(socket: net.Socket): void {
    if (this.closed || this.pending.size >= LIMITS.MAX_PENDING_HANDSHAKES) {
      this.dropped.overLimit++;
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const p = new PendingConnection(
      this.pendingHost,
      socket,
      plainHost(socket.remoteAddress),
      this.clock.nowMs(),
    );
    this.pending.add(p);
    this.ensureTimer(IDLE_TICK_MS);
  }

  /** Closes a half-open connection, telling the peer why when `reason` >= 0. */
  private dropPending(p: PendingConnection, reason: number): void {
    this.pending.delete(p);
    p.adopted = true; // nothing more from it
    if (reason >= 0 && !p.socket.destroyed) {
      p.socket.end(encodeFrame(FrameType.CLOSE, 0, 0, encodeCloseBody(reason)));
      p.socket.destroySoon();
    } else p.socket.destroy();
  }

  private onPendingFrame(p: PendingConnection, frame: FrameFields, body: Buffer): boolean {
    this.counters.packetsReceived++;
    this.counters.bytesReceived += body.length + 16;
    if (frame.type === FrameType.HELLO && !p.hello) return this.onHello(p, body);
    if (frame.type === FrameType.CONFIRM && p.hello) return this.onConfirm(p, body);
    if (frame.type === FrameType.CLOSE) {
      this.dropPending(p, -1);
      return false;
    }
    this.dropped.unauthenticated++;
    this.dropPending(p, CloseReason.PROTOCOL_ERROR);
    return false;
  }

  private onHello(p: PendingConnection, body: Buffer): boolean {
    const hello = decodeHelloBody(body);
    if (!hello) {
      this.dropped.malformed++;
      this.dropPending(p, CloseReason.PROTOCOL_ERROR);
      return false;
    }
    const key = addressKey(p.remoteHost, hello.listenPort);
    p.key = key;
    if (this.blacklisted.has(key)) {
      this.dropped.blacklisted++;
      this.dropPending(p, CloseReason.BLACKLISTED);
      return false;
    }
    const refusal = this.refuseHello(key, hello.connectionId, hello.incarnation);
    if (refusal >= 0) {
      this.dropPending(p, refusal);
      return false;
    }
    const localId = randomConnectionId();
    const nonce = randomNonce();
    const transcript: HandshakeTranscript = {
      clientConnectionId: hello.connectionId,
      serverConnectionId: localId,
      clientIncarnation: hello.incarnation,
      serverIncarnation: this.incarnation,
      clientNonce: hello.nonce,
      serverNonce: nonce,
    };
    p.hello = hello;
    p.localConnectionId = localId;
    p.transcript = transcript;
    const challenge = encodeChallengeBody({
      version: PROTOCOL_VERSION,
      listenPort: this.address.port,
      connectionId: localId,
      incarnation: this.incarnation,
      nonce,
      proof: this.auth.serverProof(transcript),
    });
    this.writePending(p, encodeFrame(FrameType.CHALLENGE, 0, 0, challenge));
    return true;
  }

  /**
   * Whether a HELLO from `key` must be refused (a CLOSE reason) or may go on (-1), given the session
   * this endpoint holds for that peer. When both sides connect at once, the connection dialed with
   * the smaller connection id is the one both keep: each side applies the same rule.
   */
  private refuseHello(key: string, connectionId: bigint, incarnation: number): number {
    const existing = this.sessionsByAddress.get(key);
    if (!existing || existing.ended) {
      if (!existing && this.sessionsByAddress.size >= this.config.maxPeers) {
        this.dropped.overLimit++;
        return CloseReason.OVER_LIMIT;
      }
      return -1;
    }
    if (existing.remoteIncarnation > incarnation) {
      this.dropped.staleIncarnation++;
      return CloseReason.STALE_INCARNATION;
    }
    const sameLife = existing.state === 'connecting' || existing.remoteIncarnation === incarnation;
    if (existing.role === 'client' && sameLife && existing.localConnectionId < connectionId) {
      return CloseReason.DUPLICATE;
    }
    return -1;
  }

  private onConfirm(p: PendingConnection, body: Buffer): boolean {
    const proof = decodeConfirmBody(body);
    const expected = this.auth.clientProof(p.transcript!);
    if (!proof || !HandshakeAuth.equal(proof, expected)) {
      this.dropped.unauthenticated++;
      this.dropPending(p, CloseReason.AUTH_FAILED);
      return false;
    }
    const hello = p.hello!;
    const refusal = this.blacklisted.has(p.key)
      ? CloseReason.BLACKLISTED
      : this.refuseHello(p.key, hello.connectionId, hello.incarnation);
    if (refusal >= 0) {
      this.dropPending(p, refusal);
      return false;
    }
    this.acceptSession(p);
    return true;
  }

  private acceptSession(p: PendingConnection): void {
    const hello = p.hello!;
    const now = this.clock.nowMs();
    const old = this.sessionsByAddress.get(p.key);
    let waiters: TcpSession['connectWaiters'] = [];
    let pinned = false;
    if (old && !old.ended) {
      if (old.role === 'client' && old.state === 'connecting') {
        waiters = old.connectWaiters.splice(0); // simultaneous connect: this session serves both
        pinned = old.pinned;
        this.removeQuietly(old);
      } else {
        old.end('reset', 'PEER_RESET', `${p.key} connected again (it restarted or lost the connection)`);
      }
    }
    this.pending.delete(p);
    p.adopted = true;
    const [host, port] = [p.remoteHost, hello.listenPort];
    const session = new TcpSession(this.host, p.key, { host, port }, 'server', p.localConnectionId, now);
    session.localIncarnation = this.incarnation;
    session.pinned = pinned;
    session.establish(hello.connectionId, hello.incarnation);
    session.connectWaiters.push(...waiters);
    p.reader.maxDataBytes = this.config.maxMessageBytes;
    session.attach(p.socket, p.reader);
    this.addSession(session);
    this.writePending(p, encodeFrame(FrameType.ACCEPT, 0, 0));
    session.setConnected();
  }

  private writePending(p: PendingConnection, frame: Buffer): void {
    this.counters.packetsSent++;
    this.counters.bytesSent += frame.length;
    p.socket.write(frame);
  }
}
