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
import { systemClock, type Clock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { addressKey, EndpointShell, planBind } from '../endpoint-shell.js';
import { ReceiveMemory, receiveMemoryStats } from '../receive-memory.js';
import {
  bytesEqual,
  SessionKeys,
  transcriptHash,
  x25519Generate,
  x25519Shared,
} from '../crypto/key-schedule.js';
import { randomConnectionId, randomNonce } from '../handshake-auth.js';
import { AEAD_TAG_BYTES } from '../../wire/packet-layout.js';
import type { EndpointStats, PeerAddress } from '../types.js';
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
import { PendingConnection, type PendingHost } from './pending-connection.js';
import { readTcpConfig, type TcpConfig } from './tcp-config.js';
import { TcpSession, type TcpSessionHost } from './tcp-session.js';
import { aeadKind } from '../crypto/native-aead.js';

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
  /** Seal every frame with an AEAD (default true; see EndpointOptions.encrypt). */
  encrypt?: boolean;
}

const IDLE_TICK_MS = 50;

/** The peer's address as the socket reports it, IPv4-mapped IPv6 written as IPv4. */
function plainHost(host: string | undefined): string {
  if (!host) return '';
  return host.startsWith('::ffff:') && net.isIPv4(host.slice(7)) ? host.slice(7) : host;
}

export class TcpEndpoint extends EndpointShell<TcpSession> {
  declare readonly config: TcpConfig;
  private readonly server: net.Server;
  private readonly slab = new HeaderSlab();
  private readonly host: TcpSessionHost;
  private readonly pendingHost: PendingHost;
  private readonly pending = new Set<PendingConnection>();
  private readonly corked: TcpSession[] = [];
  private uncorkScheduled = false;
  /** Partial frame bodies and held messages of every session, under maxReceiveMemoryBytes. */
  readonly receiveMemory: ReceiveMemory;
  /** Sessions that stopped reading because `receiveMemory` was full. */
  private readonly waitingForMemory = new Set<TcpSession>();
  protected readonly closeTickMs = IDLE_TICK_MS;
  protected override readonly sessionsCountReceived = true;

  private constructor(
    server: net.Server,
    family: 4 | 6,
    config: TcpConfig,
    clock: Clock,
    secret: Buffer | null,
    readonly encrypt: boolean,
  ) {
    super(config, clock, family, server.address() as net.AddressInfo, secret, 'listens on');
    this.server = server;
    this.receiveMemory = new ReceiveMemory(config.maxReceiveMemoryBytes);
    this.host = {
      config,
      auth: this.auth,
      encrypt,
      slab: this.slab,
      receiveMemory: this.receiveMemory,
      waitForMemory: (session) => this.waitingForMemory.add(session),
      memoryReleased: () => this.memoryReleased(),
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
          status === 'badMagic'
            ? 'badVersion'
            : status === 'tooLarge' || status === 'overMemory'
              ? 'overLimit'
              : 'malformed'
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
    if (options.impair !== undefined && options.impair !== null) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        'impairment works on UDP datagrams only: leave impair unset for the TCP transport (or use ferry impair)',
      );
    }
    const encryptDefault = process.env.FERRY_NO_ENCRYPT === '1' ? false : undefined;
    const { host, port, family, secret, encrypt } = planBind(
      { ...options, encrypt: options.encrypt ?? encryptDefault },
      'listening on',
    );
    const config = readTcpConfig(options.config);
    if (encrypt) aeadKind(); // chosen now: FERRY_REQUIRE_NATIVE=1 without the native AEAD fails here
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
    return new TcpEndpoint(server, family, config, options.clock ?? systemClock, secret, encrypt);
  }

  // ================================================================== the shell's hooks

  protected startClientSession(addr: PeerAddress, key: string): TcpSession {
    const session = new TcpSession(this.host, key, addr, 'client', randomConnectionId(), this.clock.nowMs());
    session.localIncarnation = this.incarnation;
    session.clientNonce = randomNonce();
    this.addSession(session);
    const socket = net.connect({ host: addr.host, port: addr.port, noDelay: true });
    session.attach(socket, new FrameReader(this.maxDataFrameBytes(), session));
    const pair = x25519Generate();
    session.handshakePrivateKey = pair.privateKey;
    session.helloBody = encodeHelloBody({
      version: PROTOCOL_VERSION,
      listenPort: this.address.port,
      connectionId: session.localConnectionId,
      incarnation: this.incarnation,
      nonce: session.clientNonce,
      encrypt: this.encrypt,
      publicKey: pair.publicKey,
    });
    const hello = encodeFrame(FrameType.HELLO, 0, 0, session.helloBody);
    socket.once('connect', () => {
      if (session.link?.socket === socket) session.sendHello(hello);
    });
    this.ensureTimer(IDLE_TICK_MS);
    return session;
  }

  /** The largest DATA frame body a session reads: a whole message, and the tag when sealed. */
  private maxDataFrameBytes(): number {
    return this.config.maxMessageBytes + (this.encrypt ? AEAD_TAG_BYTES : 0);
  }

  protected blacklistSession(session: TcpSession): void {
    session.closeWith(CloseReason.BLACKLISTED, 'blacklisted', 'PEER_BLACKLISTED');
  }

  protected dropPendingFrom(key: string): void {
    for (const p of this.pending) if (p.key === key) this.dropPending(p, CloseReason.BLACKLISTED);
  }

  protected async closeTransport(): Promise<void> {
    for (const p of this.pending) p.socket.destroy();
    this.pending.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  protected statsLabel(): string {
    return `tcp ${addressKey(this.address.host, this.address.port)}`;
  }

  protected forgetSession(session: TcpSession, quietly: boolean): void {
    if (quietly) session.detach();
  }

  /** Memory was given back: the sessions that waited for it read again (while it has room). */
  private memoryReleased(): void {
    if (this.waitingForMemory.size === 0 || this.receiveMemory.full) return;
    const waiting = [...this.waitingForMemory];
    this.waitingForMemory.clear();
    for (const s of waiting) s.memoryFreed();
  }

  // ================================================================== stats

  override stats(): EndpointStats {
    const s = super.stats();
    s.receiveMemory = receiveMemoryStats(this.receiveMemory);
    return s;
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

  // ================================================================== session host

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

  // ================================================================== timer

  protected readonly onTick = (): void => {
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
    if (hello.encrypt !== this.encrypt) {
      this.dropped.unauthenticated++;
      this.dropPending(p, this.encrypt ? CloseReason.ENCRYPT_REQUIRED : CloseReason.ENCRYPT_OFF);
      return false;
    }
    const localId = randomConnectionId();
    const pair = x25519Generate(); // per connection: the connection itself is the server's state here
    const challenge = encodeChallengeBody({
      version: PROTOCOL_VERSION,
      listenPort: this.address.port,
      connectionId: localId,
      incarnation: this.incarnation,
      nonce: randomNonce(),
      encrypt: this.encrypt,
      publicKey: pair.publicKey,
    });
    const shared = x25519Shared(pair.privateKey, hello.publicKey);
    if (!shared) {
      this.dropped.unauthenticated++;
      this.dropPending(p, CloseReason.AUTH_FAILED);
      return false;
    }
    p.hello = hello;
    p.localConnectionId = localId;
    p.keys = new SessionKeys(shared, this.auth.key, transcriptHash(body, challenge));
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
    if (!proof || !bytesEqual(proof, p.keys!.clientProof)) {
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
    const { waiters, pinned } = this.takeOver(
      this.sessionsByAddress.get(p.key),
      `${p.key} connected again (it restarted or lost the connection)`,
    );
    this.pending.delete(p);
    p.adopted = true;
    const [host, port] = [p.remoteHost, hello.listenPort];
    const session = new TcpSession(this.host, p.key, { host, port }, 'server', p.localConnectionId, now);
    session.localIncarnation = this.incarnation;
    session.pinned = pinned;
    session.establish(hello.connectionId, hello.incarnation);
    session.connectWaiters.push(...waiters);
    p.reader.maxDataBytes = this.maxDataFrameBytes();
    session.attach(p.socket, p.reader);
    this.addSession(session);
    // from here every frame both ways is sealed (encryption on); ACCEPT is the server's first
    if (this.encrypt) session.useKeys(p.keys!);
    session.sendAccept(p.keys!.serverProof);
    session.setConnected();
  }

  private writePending(p: PendingConnection, frame: Buffer): void {
    this.counters.packetsSent++;
    this.counters.bytesSent += frame.length;
    p.socket.write(frame);
  }
}
