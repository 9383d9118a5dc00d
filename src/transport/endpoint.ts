/**
 * `Endpoint`: ferry's reliable messaging over one UDP socket, many peers (the MessageEndpoint contract
 * of types.ts).
 *
 * Why this shape: the socket, the demultiplexing of datagrams to sessions, the server half of the
 * handshake, one coarse timer and one flush loop live here; everything per peer lives in Session.
 * Every datagram is decoded into one reused PacketView; whatever does not belong to an authenticated
 * session is dropped and counted. With impairment on (option or FERRY_IMPAIR), every received
 * datagram passes through it first; with it off, the path has no extra step.
 *
 * ```ts
 * const server = await Endpoint.create({ port: 7000, secret: 's3cret' });
 * server.onMessage(async (m) => console.log(m.peer.id, m.payload.length));
 * const client = await Endpoint.create({ secret: 's3cret' });
 * const peer = await client.connect({ host: '127.0.0.1', port: 7000 });
 * await client.send(peer, Buffer.from('hello')).delivered;
 * await client.close(); await server.close();
 * ```
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { initChecksums } from '../core/checksum.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { FerryError, type ErrorCode } from '../core/errors.js';
import { isLoopbackHost } from '../core/address.js';
import { LIMITS } from '../core/limits.js';
import { BufferPool } from '../core/pool.js';
import {
  decodeChallenge,
  decodeHello,
  decodeProof,
  encodeChallenge,
  encodeHello,
  type HelloBody,
} from '../wire/control-bodies.js';
import { encodePacket, PacketView, sealGathered, sealPacket } from '../wire/packet-codec.js';
import { PacketType } from '../wire/packet-layout.js';
import { readTransportConfig, type TransportConfig } from './config.js';
import {
  HandshakeAuth,
  nextIncarnation,
  randomConnectionId,
  randomNonce,
  type HandshakeTranscript,
} from './handshake-auth.js';
import type { CompleteMessage } from './inbox.js';
import {
  Impairment,
  impairmentFromEnv,
  type ImpairmentConfig,
  type ImpairmentStats,
} from './impair/impairment.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { MessageTable } from './message-table.js';
import { ReceiveShare } from './receive-share.js';
import { Session, type SessionHost } from './session.js';
import { formatEndpointStats, sumPeerStats } from './stats.js';
import { UdpSender } from './udp-sender.js';
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
} from './types.js';

export interface EndpointOptions {
  /** Address to bind: IPv4 or IPv6 literal. Default '127.0.0.1'. */
  host?: string;
  /** Port to bind; 0 (default) picks a free one. */
  port?: number;
  /** Pre-shared secret; both sides must have the same. Needed to bind a non-loopback address. */
  secret?: string | Buffer;
  /** Allows a non-loopback bind without a secret (anyone can then talk to this endpoint). */
  insecure?: boolean;
  /** Transport settings (config.ts), as an object or `key=value,...`. */
  config?: Partial<TransportConfig> | string;
  /** Time source; default the system clock. */
  clock?: Clock;
  /**
   * Impairment on the receive path; default from FERRY_IMPAIR; null switches it off. An Impairment
   * object is used as given (a test keeps it to change the path while running, e.g. `setMtu`); the
   * endpoint closes it when it closes.
   */
  impair?: string | Partial<ImpairmentConfig> | Impairment | null;
}

/** Server half-open handshake: CHALLENGE sent, CONFIRM awaited. */
interface PendingHandshake {
  localId: bigint;
  address: PeerAddress;
  hello: HelloBody;
  transcript: HandshakeTranscript;
  challenge: Buffer;
  createdMs: number;
}

interface DropCounters {
  malformed: number;
  badChecksum: number;
  badVersion: number;
  unknownSession: number;
  unauthenticated: number;
  staleIncarnation: number;
  blacklisted: number;
  overLimit: number;
}

const SEND_BUDGET_PER_SESSION = 128;
const IDLE_TICK_MS = 50;
const TWO_32 = 0x1_0000_0000;
/** Settled once: `.then(f)` runs f in a microtask (the flush after a synchronous run of sends). */
const SETTLED = Promise.resolve();

function addressKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Every address this endpoint sends to is an IP literal (checked in connect and taken from rinfo), so
 * the socket's name lookup answers at once: the default (dns.lookup) costs a regular expression and
 * a nextTick per datagram sent.
 */
function literalLookup(
  host: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, host, host.includes(':') ? 6 : 4);
}

export class Endpoint implements MessageEndpoint {
  readonly config: TransportConfig;
  readonly address: PeerAddress;
  /** This endpoint's incarnation: grows with every restart, so peers recognise a new life. */
  readonly incarnation: number;
  private readonly socket: dgram.Socket;
  private readonly family: 4 | 6;
  private readonly clock: Clock;
  private readonly auth: HandshakeAuth;
  private readonly impairment: Impairment | null;
  private readonly pool: BufferPool;
  private readonly sendingBuffers: Buffer[] = [];
  private sendingHead = 0;
  private poolStarved = false;
  /** Sends a datagram as a list of buffers (header + payload slices) with the least JS per send. */
  private readonly sender: UdpSender;
  /** The list handed to the sender (reused: the sender keeps it only when libuv queues a send). */
  private readonly sendList: Uint8Array[] = [];
  private readonly view = new PacketView();
  /** What sessions may call back into (kept off the public surface of Endpoint). */
  private readonly host: SessionHost;

  private readonly sessionsByAddress = new Map<string, Session>();
  private readonly sessionsByLocalLow = new Map<number, Session>();
  private readonly pendingByLocalLow = new Map<number, PendingHandshake>();
  private readonly retired = new Map<number, number>(); // local id low word -> high word
  private readonly inactive: Session[] = [];
  private readonly blacklisted = new Set<string>();
  private readonly active = new Set<Session>();
  private flushScheduled = false;
  private turnEndScheduled = false;
  /** The clock when the current run began (set whenever a flush gets scheduled; valid while flushScheduled). */
  private runNowMs = 0;
  /** The socket's receive buffer as the kernel granted it, split between the peers sending to us (counted each tick). */
  private readonly receiveShare: ReceiveShare;
  private timer: TimerHandle | null = null;
  private timerDueMs = Infinity;

  private handler: MessageHandler | null = null;
  private readonly listeners = new Set<(c: PeerStateChange) => void>();
  /** Messages by id: those in play and the most recent finished ones. */
  private readonly messages = new MessageTable();
  private nextMessageId = 1;
  private closed = false;
  private resetsThisSecond = 0;
  private resetWindowStartMs = 0;

  private readonly counters = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly dropped: DropCounters = {
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
    socket: dgram.Socket,
    family: 4 | 6,
    config: TransportConfig,
    clock: Clock,
    secret: Buffer | null,
    impairment: Impairment | null,
  ) {
    this.socket = socket;
    this.family = family;
    this.config = config;
    this.clock = clock;
    this.auth = new HandshakeAuth(secret);
    this.impairment = impairment;
    const bound = socket.address();
    this.address = { host: bound.address, port: bound.port };
    this.incarnation = nextIncarnation();
    this.receiveShare = new ReceiveShare(Endpoint.receiveBufferBytes(socket, config.recvBufferBytes));
    this.host = {
      config,
      socketSharePackets: (packetBytes) => this.receiveShare.sharePackets(packetBytes),
      activeSenders: () => this.receiveShare.senders,
      acquireBuffer: () => this.acquireBuffer(),
      releaseBuffer: (buf) => this.releaseBuffer(buf),
      sendPacket: (session, buf, length, slices, sliceCount) =>
        this.sendPacket(session, buf, length, slices, sliceCount ?? 0),
      sendControl: (session, packet) => this.sendControl(session, packet),
      dispatch: (session, msg) => this.dispatch(session, msg),
      hasHandler: () => this.handler !== null,
      markActive: (session) => this.markActive(session),
      onStateChange: (session, previous, reason) => this.onStateChange(session, previous, reason),
      onMessageFinished: (msg) => this.onMessageFinished(msg),
    };
    this.pool = new BufferPool(
      config.packetBytes,
      Math.max(16, Math.floor(config.sendPoolBytes / config.packetBytes)),
    );
    this.sender = new UdpSender(socket, this.onSendDone, config.nativeSend);
    if (impairment) socket.on('message', (msg, rinfo) => impairment.process(msg, rinfo, this.onDatagram));
    else socket.on('message', this.onDatagram);
    socket.on('error', () => {
      // a send to an unreachable port reports ICMP errors here; loss is the protocol's business
    });
  }

  /** The receive buffer the kernel granted (it may cap the request at net.core.rmem_max). */
  private static receiveBufferBytes(socket: dgram.Socket, requestedBytes: number): number {
    try {
      return socket.getRecvBufferSize();
    } catch {
      return requestedBytes;
    }
  }

  /** Binds a socket and returns a ready endpoint. Throws INVALID_ARGUMENT, INVALID_CONFIG, INSECURE_BIND, BIND_FAILED. */
  static async create(options: EndpointOptions = {}): Promise<Endpoint> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    const family = net.isIP(host);
    if (family === 0) {
      throw new FerryError('INVALID_ARGUMENT', `host must be an IPv4 or IPv6 address, got "${host}"`);
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new FerryError('INVALID_ARGUMENT', `port must be 0..65535, got ${port}`);
    }
    const secret = Endpoint.readSecret(options.secret);
    if (!secret && !options.insecure && !isLoopbackHost(host)) {
      throw new FerryError(
        'INSECURE_BIND',
        `binding ${host} needs a secret: pass secret (or FERRY_SECRET / --secret-file), or insecure: true`,
      );
    }
    const config = readTransportConfig(options.config);
    await initChecksums();
    const clock = options.clock ?? systemClock;
    const impairSpec = options.impair === undefined ? impairmentFromEnv() : options.impair;
    const impairment =
      impairSpec === null
        ? null
        : impairSpec instanceof Impairment
          ? impairSpec
          : new Impairment(impairSpec, clock);
    const socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      lookup: literalLookup,
      recvBufferSize: config.recvBufferBytes,
      sendBufferSize: config.sendBufferBytes,
      ipv6Only: family === 6,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      impairment?.close();
      socket.close();
      throw new FerryError(
        'BIND_FAILED',
        `could not bind ${addressKey(host, port)}: ${(err as Error).message}`,
        {},
        err,
      );
    }
    return new Endpoint(socket, family === 6 ? 6 : 4, config, clock, secret, impairment);
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

  private startClientSession(addr: PeerAddress, key: string): Session {
    if (this.sessionsByAddress.size >= this.config.maxPeers) {
      throw new FerryError(
        'TOO_MANY_PEERS',
        `this endpoint holds maxPeers (${this.config.maxPeers}) peers already`,
      );
    }
    const now = this.clock.nowMs();
    const session = new Session(this.host, key, addr, 'client', this.freshLocalId(), now);
    const nonce = randomNonce();
    session.handshakePacket = encodePacket({
      type: PacketType.HELLO,
      connectionId: 0n,
      payload: encodeHello({
        sourceConnectionId: session.localConnectionId,
        incarnation: this.incarnation,
        nonce,
        maxPacketBytes: this.config.packetBytes,
      }),
    });
    this.clientNonces.set(session, nonce);
    this.addSession(session);
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
    this.ensureTimer(this.config.tickMs);
    return session;
  }

  private readonly clientNonces = new WeakMap<Session, Buffer>();

  async disconnect(peer: Peer): Promise<void> {
    const session = this.sessionOf(peer);
    if (!session || session.ended) return;
    if (session.state === 'connecting') return session.end('closed', 'NOT_CONNECTED');
    if (session.state === 'connected') session.beginClose(this.clock.nowMs());
    if (session.ended) return;
    this.ensureTimer(this.config.tickMs);
    await new Promise<void>((resolve, reject) => session.closeWaiters.push({ resolve, reject }));
  }

  blacklist(address: PeerAddress): void {
    const addr = this.checkAddress(address);
    const key = addressKey(addr.host, addr.port);
    this.blacklisted.add(key);
    const session = this.sessionsByAddress.get(key);
    if (session) {
      session.sendCloseNotice(this.clock.nowMs());
      session.end('blacklisted', 'PEER_BLACKLISTED');
    }
    for (const [low, p] of this.pendingByLocalLow) {
      if (addressKey(p.address.host, p.address.port) === key) this.pendingByLocalLow.delete(low);
    }
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
    const size = Endpoint.sizeOf(pieces);
    const status = this.refusal(peer, size);
    if (status) return status;
    return this.enqueue(this.sessionOf(peer)!, pieces, size, opts);
  }

  send(peer: Peer, payload: Uint8Array | readonly Uint8Array[], opts?: SendOptions): SendHandle {
    const result = this.trySend(peer, payload, opts);
    if (typeof result === 'string') throw Endpoint.statusError(result, peer.id);
    return result;
  }

  sendMany(
    peers: readonly Peer[],
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle[] {
    const pieces = payload instanceof Uint8Array ? [payload] : payload;
    const size = Endpoint.sizeOf(pieces);
    for (const peer of peers) {
      const status = this.refusal(peer, size);
      if (status) throw Endpoint.statusError(status, peer.id);
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
    session: Session,
    pieces: readonly Uint8Array[],
    size: number,
    opts?: SendOptions,
  ): SendHandle {
    const mode = opts?.mode ?? 'unordered';
    if (mode !== 'unordered' && mode !== 'fifo') {
      throw new FerryError('INVALID_ARGUMENT', `mode must be 'unordered' or 'fifo', got ${String(mode)}`);
    }
    // one clock read per run of sends (the flush ends the run; markActive read the clock when
    // whatever came first - this send, a received packet, a delivery - scheduled it)
    if (!this.flushScheduled) this.runNowMs = this.clock.nowMs();
    const msg = session.enqueue(this.nextMessageId++, mode, pieces, size, this.runNowMs);
    this.messages.add(msg);
    // (enqueue marked the session active: the flush runs once this synchronous run of the caller
    // ends, so the messages it queued leave together, packed, before the event loop moves on)
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

  private static statusError(status: SendStatus, peerId: string): FerryError {
    return new FerryError(status, undefined, { peer: peerId });
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
    return {
      ...this.counters,
      dropped: { ...this.dropped },
      peers: this.sessionsByAddress.size,
      totals: sumPeerStats(all),
    };
  }

  formatStats(): string {
    const peers = [...this.sessionsByAddress.values()].map((s) => ({
      id: s.id,
      state: s.state,
      stats: s.snapshot(),
    }));
    return formatEndpointStats(addressKey(this.address.host, this.address.port), this.stats(), peers);
  }

  /** Counters of the impairment layer, or null when it is off. */
  impairmentStats(): ImpairmentStats | null {
    return this.impairment?.stats() ?? null;
  }

  /** Reassembly state, for leak checks: messages being reassembled and bytes held, over all peers. */
  memoryStats(): {
    sessions: number;
    pendingHandshakes: number;
    partialMessages: number;
    reassemblyBytes: number;
    liveMessages: number;
  } {
    let partialMessages = 0;
    let reassemblyBytes = 0;
    for (const s of this.sessionsByAddress.values()) {
      partialMessages += s.inbox.partialCount;
      reassemblyBytes += s.inbox.usedBytes;
    }
    return {
      sessions: this.sessionsByAddress.size,
      pendingHandshakes: this.pendingByLocalLow.size,
      partialMessages,
      reassemblyBytes,
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
    this.pendingByLocalLow.clear();
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.impairment?.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
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
        `peer ${address.host} is IPv${family} but this endpoint is bound to IPv${this.family}`,
      );
    }
    if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
      throw new FerryError('INVALID_ARGUMENT', `peer port must be 1..65535, got ${address.port}`);
    }
    return { host: address.host, port: address.port };
  }

  private sessionOf(peer: Peer): Session | undefined {
    const s = this.sessionsByAddress.get(peer.id);
    return s && s.peer === peer ? s : undefined;
  }

  // ================================================================== SessionHost

  private acquireBuffer(): Buffer | null {
    const buf = this.pool.acquire();
    if (!buf) this.poolStarved = true;
    return buf;
  }

  private releaseBuffer(buf: Buffer): void {
    this.pool.release(buf);
  }

  private sendPacket(
    session: Session,
    buf: Buffer,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
  ): void {
    const list = this.sendList;
    let total = length;
    if (sliceCount > 0) {
      sealGathered(buf, length, slices!, sliceCount);
      for (let i = 0; i < sliceCount; i++) {
        const slice = slices![i]!;
        list[i + 1] = slice;
        total += slice.length;
      }
    } else {
      sealPacket(buf, length);
    }
    list[0] = buf.subarray(0, length);
    session.stats.packetsSent++;
    session.stats.bytesSent += total;
    this.counters.packetsSent++;
    this.counters.bytesSent += total;
    this.sendingBuffers.push(buf);
    // libuv sends at once when its queue is empty (the kernel copies the bytes before send returns);
    // a send that joins a non-empty queue holds its buffers until it completes. Sends complete in
    // order, so the queue length says how many of ours are still held. Payload slices belong to their
    // message, which keeps them until the peer has every byte.
    const address = session.address;
    this.sender.send(list, sliceCount + 1, address.port, address.host);
    this.releaseSent();
  }

  private sendControl(session: Session, packet: Buffer): void {
    session.stats.packetsSent++;
    session.stats.bytesSent += packet.length;
    this.sendRaw(packet, session.address);
  }

  private sendRaw(packet: Buffer, to: PeerAddress): void {
    if (this.closed) return;
    this.counters.packetsSent++;
    this.counters.bytesSent += packet.length;
    this.socket.send(packet, 0, packet.length, to.port, to.host);
  }

  private readonly onSendDone = (): void => {
    this.releaseSent();
  };

  /** Returns to the pool every sent buffer the socket no longer holds (all but the newest queued ones). */
  private releaseSent(): void {
    const held = this.closed ? 0 : this.socket.getSendQueueCount();
    while (this.sendingBuffers.length - this.sendingHead > held) {
      const buf = this.sendingBuffers[this.sendingHead]!;
      this.sendingBuffers[this.sendingHead++] = undefined as unknown as Buffer;
      this.pool.release(buf);
    }
    if (this.sendingHead === this.sendingBuffers.length) {
      this.sendingBuffers.length = 0;
      this.sendingHead = 0;
    } else if (this.sendingHead > 4096 && this.sendingHead * 2 > this.sendingBuffers.length) {
      this.sendingBuffers.splice(0, this.sendingHead);
      this.sendingHead = 0;
    }
    if (this.poolStarved && this.pool.available * 2 >= this.pool.capacity) {
      this.poolStarved = false;
      for (const s of this.sessionsByAddress.values()) if (s.busy) this.markActive(s);
    }
  }

  private dispatch(session: Session, msg: CompleteMessage): boolean {
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

  /**
   * The session has something to send. Messages go in a microtask, i.e. as soon as the caller's
   * synchronous run ends (a request, a reply, a burst of small messages that then share packets)
   * instead of a loop phase later. Standalone acks, and sessions that used up their budget, wait
   * for `turnEnd` (setImmediate): a burst of arriving packets is acked once, and I/O is never
   * starved.
   */
  private markActive(session: Session): void {
    this.active.add(session);
    // a burst of sends in one run: the first one scheduled the flush and checked the timer
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // a new run begins whatever scheduled its flush (a send, a received packet, a delivery, a tick):
    // sends made before the flush stamp their messages with this reading, never an older run's
    const nowMs = this.clock.nowMs();
    this.runNowMs = nowMs;
    // (a reaction on a settled promise: queueMicrotask makes an AsyncResource and a bound function
    // per call, which cost a request-response round trip several microseconds)
    void SETTLED.then(this.flush);
    if (this.timerDueMs > nowMs + this.config.tickMs) this.ensureTimer(this.config.tickMs);
  }

  private onStateChange(session: Session, previous: PeerState, reason: ErrorCode | undefined): void {
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

  // ================================================================== session table

  private freshLocalId(): bigint {
    for (;;) {
      const id = randomConnectionId();
      const low = Number(id & 0xffff_ffffn);
      if (!this.sessionsByLocalLow.has(low) && !this.pendingByLocalLow.has(low) && !this.retired.has(low))
        return id;
    }
  }

  private addSession(session: Session): void {
    this.sessionsByAddress.set(session.id, session);
    this.sessionsByLocalLow.set(session.localLow, session);
  }

  private removeSession(session: Session): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    if (this.sessionsByLocalLow.get(session.localLow) === session)
      this.sessionsByLocalLow.delete(session.localLow);
    this.active.delete(session);
    this.retired.set(session.localLow, session.localHigh);
    while (this.retired.size > LIMITS.MAX_RETIRED_CONNECTION_IDS)
      this.retired.delete(this.retired.keys().next().value as number);
    for (const msg of session.messages()) this.onMessageFinished(msg);
    this.inactive.push(session);
    if (this.inactive.length > LIMITS.MAX_INACTIVE_PEERS) this.inactive.shift();
  }

  // ================================================================== timer and flush

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
    let busy = false;
    this.receiveShare.beginCount();
    for (const s of [...this.sessionsByAddress.values()]) {
      s.tick(now);
      if (!s.ended && s.busy) busy = true;
      this.receiveShare.count(s.dataReceivedAtMs, now);
    }
    this.receiveShare.endCount();
    for (const [low, p] of this.pendingByLocalLow) {
      if (now - p.createdMs > this.config.handshakeTimeoutMs) this.pendingByLocalLow.delete(low);
    }
    this.turnEnd();
    this.releaseSent();
    if (busy) this.ensureTimer(this.config.tickMs);
    else if (this.sessionsByAddress.size > 0 || this.pendingByLocalLow.size > 0)
      this.ensureTimer(IDLE_TICK_MS);
  };

  /**
   * Microtask flush: data of the active sessions, acks riding along. Only a session that still owes
   * a standalone ack (or used its whole budget) waits for turnEnd: a reply that carried the ack of
   * its request leaves nothing for the end of the turn.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    const now = this.clock.nowMs();
    let more = false;
    for (const s of this.active) {
      s.lastNowMs = now;
      const n = s.pump(now, SEND_BUDGET_PER_SESSION, false);
      if (!s.ended && (n >= SEND_BUDGET_PER_SESSION || s.ackDue(now))) more = true;
      else this.active.delete(s);
    }
    if (more) this.scheduleTurnEnd();
  };

  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled || this.active.size === 0) return;
    this.turnEndScheduled = true;
    setImmediate(this.turnEnd);
  }

  /** End of a loop turn: data and acks of every active session; a session that used its budget stays. */
  private readonly turnEnd = (): void => {
    this.turnEndScheduled = false;
    if (this.closed) return;
    const now = this.clock.nowMs();
    for (const s of this.active) {
      s.lastNowMs = now;
      const n = s.pump(now, SEND_BUDGET_PER_SESSION);
      if (n < SEND_BUDGET_PER_SESSION || s.ended) this.active.delete(s);
    }
    this.scheduleTurnEnd();
  };

  // ================================================================== receive path

  private readonly onDatagram = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.closed) return;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += buf.length;
    const view = this.view;
    const status = view.decode(buf);
    if (status !== 'ok') {
      this.dropped[status]++;
      return;
    }
    switch (view.type) {
      case PacketType.HELLO:
        return this.onHello(view, rinfo);
      case PacketType.CONFIRM:
        return this.onConfirm(view, rinfo);
      case PacketType.CHALLENGE:
        return this.onChallenge(view, rinfo);
      case PacketType.ACCEPT:
        return this.onAccept(view, rinfo);
      case PacketType.RESET:
        return this.onReset(view, rinfo);
      default:
        return this.onSessionPacket(view, rinfo);
    }
  };

  /** The session this packet is addressed to, if the connection id and the sender's address match. */
  private sessionFor(view: PacketView, rinfo: dgram.RemoteInfo): Session | undefined {
    const s = this.sessionsByLocalLow.get(view.connectionIdLow);
    if (!s || s.localHigh !== view.connectionIdHigh) return undefined;
    if (s.address.port !== rinfo.port || s.address.host !== rinfo.address) return undefined;
    return s;
  }

  private onSessionPacket(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const session = this.sessionFor(view, rinfo);
    if (session) {
      const now = this.clock.nowMs();
      session.lastNowMs = now;
      if (!session.onPacket(view, now)) this.dropped.malformed++;
      return;
    }
    if (this.blacklisted.has(addressKey(rinfo.address, rinfo.port))) {
      this.dropped.blacklisted++;
      return;
    }
    if (this.pendingByLocalLow.has(view.connectionIdLow)) {
      this.dropped.unauthenticated++;
      return;
    }
    const retiredHigh = this.retired.get(view.connectionIdLow);
    if (retiredHigh === view.connectionIdHigh) this.dropped.staleIncarnation++;
    else this.dropped.unknownSession++;
    if (view.type === PacketType.CLOSE && retiredHigh === view.connectionIdHigh) return;
    // A peer that still believes in a session we do not have learns so at once, instead of silently
    // getting a new one: answer its ack-eliciting packets with a RESET (rate-limited).
    if (view.type === PacketType.HEARTBEAT || view.type === PacketType.DATA || view.type === PacketType.PROBE)
      this.sendReset(view, rinfo);
  }

  private sendReset(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const now = this.clock.nowMs();
    if (now - this.resetWindowStartMs >= 1000) {
      this.resetWindowStartMs = now;
      this.resetsThisSecond = 0;
    }
    if (this.resetsThisSecond >= LIMITS.MAX_RESETS_PER_SEC) return;
    this.resetsThisSecond++;
    const id = BigInt(view.connectionIdHigh) * BigInt(TWO_32) + BigInt(view.connectionIdLow);
    const packet = encodePacket({
      type: PacketType.RESET,
      connectionId: id,
      payload: this.auth.resetToken(id),
    });
    this.sendRaw(packet, { host: rinfo.address, port: rinfo.port });
  }

  private onReset(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const session = this.sessionsByAddress.get(addressKey(rinfo.address, rinfo.port));
    const id = BigInt(view.connectionIdHigh) * BigInt(TWO_32) + BigInt(view.connectionIdLow);
    const token = decodeProof(view.payload());
    if (!session || session.remoteConnectionId !== id || !token) {
      this.dropped.unknownSession++;
      return;
    }
    if (!HandshakeAuth.equal(token, this.auth.resetToken(id))) {
      this.dropped.unauthenticated++;
      return;
    }
    session.end('reset', 'PEER_RESET');
  }

  // ------------------------------------------------------------------ handshake, server side

  private onHello(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const key = addressKey(rinfo.address, rinfo.port);
    if (this.blacklisted.has(key)) {
      this.dropped.blacklisted++;
      return;
    }
    const hello = decodeHello(view.payload());
    if (!hello) {
      this.dropped.malformed++;
      return;
    }
    const existing = this.sessionsByAddress.get(key);
    if (existing && existing.remoteIncarnation > hello.incarnation) {
      this.dropped.staleIncarnation++;
      return;
    }
    if (
      existing &&
      existing.role === 'client' &&
      existing.state === 'connecting' &&
      existing.localConnectionId < hello.sourceConnectionId
    ) {
      return; // both sides connect at once: the smaller connection id stays the client
    }
    for (const p of this.pendingByLocalLow.values()) {
      if (
        p.hello.sourceConnectionId === hello.sourceConnectionId &&
        p.address.port === rinfo.port &&
        p.address.host === rinfo.address
      ) {
        this.sendRaw(p.challenge, p.address); // a repeated HELLO: the CHALLENGE was lost
        return;
      }
    }
    if (
      this.pendingByLocalLow.size >= LIMITS.MAX_PENDING_HANDSHAKES ||
      this.sessionsByAddress.size >= this.config.maxPeers
    ) {
      this.dropped.overLimit++;
      return;
    }
    this.answerHello(hello, { host: rinfo.address, port: rinfo.port });
  }

  private answerHello(hello: HelloBody, address: PeerAddress): void {
    const localId = this.freshLocalId();
    const nonce = randomNonce();
    const transcript: HandshakeTranscript = {
      clientConnectionId: hello.sourceConnectionId,
      serverConnectionId: localId,
      clientIncarnation: hello.incarnation,
      serverIncarnation: this.incarnation,
      clientNonce: hello.nonce,
      serverNonce: nonce,
    };
    const challenge = encodePacket({
      type: PacketType.CHALLENGE,
      connectionId: hello.sourceConnectionId,
      payload: encodeChallenge({
        sourceConnectionId: localId,
        incarnation: this.incarnation,
        nonce,
        maxPacketBytes: this.config.packetBytes,
        proof: this.auth.serverProof(transcript),
      }),
    });
    const pending: PendingHandshake = {
      localId,
      address,
      hello,
      transcript,
      challenge,
      createdMs: this.clock.nowMs(),
    };
    this.pendingByLocalLow.set(Number(localId & 0xffff_ffffn), pending);
    this.sendRaw(challenge, address);
    this.ensureTimer(IDLE_TICK_MS);
  }

  private onConfirm(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const proof = decodeProof(view.payload());
    const established = this.sessionFor(view, rinfo);
    if (established) {
      // a repeated CONFIRM: our ACCEPT was lost
      if (
        proof &&
        established.expectedClientProof &&
        HandshakeAuth.equal(proof, established.expectedClientProof)
      ) {
        if (established.handshakePacket) this.sendControl(established, established.handshakePacket);
      }
      return;
    }
    const pending = this.pendingByLocalLow.get(view.connectionIdLow);
    const sameAddress =
      pending && pending.address.port === rinfo.port && pending.address.host === rinfo.address;
    if (!pending || !sameAddress || Number(pending.localId >> 32n) !== view.connectionIdHigh || !proof) {
      this.dropped.unauthenticated++;
      return;
    }
    const expected = this.auth.clientProof(pending.transcript);
    if (!HandshakeAuth.equal(proof, expected)) {
      this.dropped.unauthenticated++;
      return;
    }
    this.pendingByLocalLow.delete(view.connectionIdLow);
    this.acceptSession(pending, expected);
  }

  private acceptSession(pending: PendingHandshake, clientProof: Buffer): void {
    const key = addressKey(pending.address.host, pending.address.port);
    const now = this.clock.nowMs();
    const old = this.sessionsByAddress.get(key);
    let waiters: Session['connectWaiters'] = [];
    let pinned = false;
    if (old) {
      if (old.remoteIncarnation > pending.hello.incarnation) {
        this.dropped.staleIncarnation++;
        return;
      }
      if (old.role === 'client' && old.state === 'connecting') {
        waiters = old.connectWaiters.splice(0); // simultaneous connect: this session serves both
        pinned = old.pinned;
        this.removeQuietly(old);
      } else {
        old.end('reset', 'PEER_RESET'); // the peer restarted (or reconnected): its old state goes
      }
    }
    const session = new Session(this.host, key, pending.address, 'server', pending.localId, now);
    session.pinned = pinned;
    session.establish(
      pending.hello.sourceConnectionId,
      pending.hello.incarnation,
      pending.hello.maxPacketBytes,
      now,
      now - pending.createdMs,
    );
    session.expectedClientProof = clientProof;
    session.handshakePacket = encodePacket({
      type: PacketType.ACCEPT,
      connectionId: pending.hello.sourceConnectionId,
    });
    session.connectWaiters.push(...waiters);
    this.addSession(session);
    this.sendControl(session, session.handshakePacket);
    session.setConnected();
    this.ensureTimer(IDLE_TICK_MS);
  }

  /** Drops a session without events (its role is taken over by another one). */
  private removeQuietly(session: Session): void {
    if (this.sessionsByAddress.get(session.id) === session) this.sessionsByAddress.delete(session.id);
    if (this.sessionsByLocalLow.get(session.localLow) === session)
      this.sessionsByLocalLow.delete(session.localLow);
    this.active.delete(session);
    session.state = 'closed';
  }

  // ------------------------------------------------------------------ handshake, client side

  private onChallenge(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const session = this.sessionFor(view, rinfo);
    const body = decodeChallenge(view.payload());
    if (!session || session.role !== 'client' || session.state !== 'connecting' || !body) {
      this.dropped.unknownSession++;
      return;
    }
    if (session.remoteConnectionId !== 0n) {
      if (session.remoteConnectionId === body.sourceConnectionId && session.handshakePacket) {
        this.sendControl(session, session.handshakePacket); // CONFIRM lost or CHALLENGE repeated
      }
      return;
    }
    const nonce = this.clientNonces.get(session)!;
    const transcript: HandshakeTranscript = {
      clientConnectionId: session.localConnectionId,
      serverConnectionId: body.sourceConnectionId,
      clientIncarnation: this.incarnation,
      serverIncarnation: body.incarnation,
      clientNonce: nonce,
      serverNonce: body.nonce,
    };
    if (!HandshakeAuth.equal(body.proof, this.auth.serverProof(transcript))) {
      this.dropped.unauthenticated++;
      session.end('closed', 'AUTH_FAILED');
      return;
    }
    const now = this.clock.nowMs();
    session.establish(
      body.sourceConnectionId,
      body.incarnation,
      body.maxPacketBytes,
      now,
      now - session.handshakeStartedMs,
    );
    session.handshakePacket = encodePacket({
      type: PacketType.CONFIRM,
      connectionId: body.sourceConnectionId,
      payload: this.auth.clientProof(transcript),
    });
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
  }

  private onAccept(view: PacketView, rinfo: dgram.RemoteInfo): void {
    const session = this.sessionFor(view, rinfo);
    if (!session || session.role !== 'client' || session.remoteConnectionId === 0n) {
      this.dropped.unknownSession++;
      return;
    }
    session.handshakePacket = null;
    session.setConnected();
  }
}
