/**
 * `Endpoint`: ferry's reliable messaging over one UDP socket, many peers (the MessageEndpoint contract
 * of types.ts).
 *
 * Why this shape: the socket, the demultiplexing of datagrams to sessions, the server half of the
 * handshake, the flush loop and the socket's link (link.ts) live here; the public API, the session
 * table and the timer are the shell's (endpoint-shell.ts), everything per peer lives in Session.
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
import { initChecksums } from '../../core/checksum.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { LIMITS } from '../../core/limits.js';
import {
  decodeChallenge,
  decodeHello,
  decodeProof,
  encodeChallenge,
  encodeHello,
  type HelloBody,
} from '../../wire/control-bodies.js';
import { encodePacket, PacketView } from '../../wire/packet-codec.js';
import { PacketType } from '../../wire/packet-layout.js';
import { readTransportConfig, type TransportConfig } from '../config.js';
import { addressKey, EndpointShell, planBind } from '../endpoint-shell.js';
import {
  HandshakeAuth,
  randomConnectionId,
  randomNonce,
  type HandshakeTranscript,
} from '../handshake-auth.js';
import {
  Impairment,
  impairmentFromEnv,
  type ImpairmentConfig,
  type ImpairmentStats,
} from '../impair/impairment.js';
import { ReceiveShare } from './receive-share.js';
import { openDatagram } from '../seal.js';
import type { PeerAddress } from '../types.js';
import { bindSocket } from './bind.js';
import { UdpLink } from './link.js';
import { Session, type SessionHost } from './session.js';

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

/** Server half-open handshake: CHALLENGE sent, CONFIRM awaited. */
interface PendingHandshake {
  localId: bigint;
  address: PeerAddress;
  hello: HelloBody;
  transcript: HandshakeTranscript;
  challenge: Buffer;
  createdMs: number;
}

const SEND_BUDGET_PER_SESSION = 128;
const IDLE_TICK_MS = 50;
const TWO_32 = 0x1_0000_0000;
/** Settled once: `.then(f)` runs f in a microtask (the flush after a synchronous run of sends). */
const SETTLED = Promise.resolve();

export class Endpoint extends EndpointShell<Session> implements SessionHost {
  declare readonly config: TransportConfig;
  private readonly socket: dgram.Socket;
  private readonly impairment: Impairment | null;
  /** The socket's send side: pool, seal, gathered sends (direct calls from the sessions). */
  private readonly link: UdpLink;
  private readonly view = new PacketView();

  private readonly sessionsByLocalLow = new Map<number, Session>();
  private readonly pendingByLocalLow = new Map<number, PendingHandshake>();
  private readonly retired = new Map<number, number>(); // local id low word -> high word
  private readonly active = new Set<Session>();
  private readonly clientNonces = new WeakMap<Session, Buffer>();
  private flushScheduled = false;
  private turnEndScheduled = false;
  /** The clock when the current run began (set whenever a flush gets scheduled; valid while flushScheduled). */
  private runNowMs = 0;
  /** The socket's receive buffer as the kernel granted it, split between the peers sending to us (counted each tick). */
  private readonly receiveShare: ReceiveShare;
  private resetsThisSecond = 0;
  private resetWindowStartMs = 0;
  protected readonly closeTickMs: number;

  private constructor(
    socket: dgram.Socket,
    family: 4 | 6,
    config: TransportConfig,
    clock: Clock,
    secret: Buffer | null,
    impairment: Impairment | null,
  ) {
    super(config, clock, family, socket.address(), secret, 'is bound to');
    this.socket = socket;
    this.impairment = impairment;
    this.closeTickMs = config.tickMs;
    this.receiveShare = new ReceiveShare(Endpoint.receiveBufferBytes(socket, config.recvBufferBytes));
    this.link = new UdpLink(
      socket,
      config.packetBytes,
      config.sendPoolBytes,
      config.nativeSend,
      this.counters,
      () => {
        for (const s of this.sessionsByAddress.values()) if (s.busy) this.markActive(s);
      },
    );
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
    const { host, port, family, secret } = planBind(options, 'binding');
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
    let socket: dgram.Socket;
    try {
      socket = await bindSocket(host, port, family, config);
    } catch (err) {
      impairment?.close();
      throw err;
    }
    return new Endpoint(socket, family, config, clock, secret, impairment);
  }

  // ================================================================== the shell's hooks

  protected startClientSession(addr: PeerAddress, key: string): Session {
    const now = this.clock.nowMs();
    const session = new Session(this, this.link, key, addr, 'client', this.freshLocalId(), now);
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

  protected blacklistSession(session: Session): void {
    session.sendCloseNotice(this.clock.nowMs());
    session.end('blacklisted', 'PEER_BLACKLISTED');
  }

  protected dropPendingFrom(key: string): void {
    for (const [low, p] of this.pendingByLocalLow) {
      if (addressKey(p.address.host, p.address.port) === key) this.pendingByLocalLow.delete(low);
    }
  }

  /**
   * One clock read per run of sends (the flush ends the run; markActive read the clock when whatever
   * came first - this send, a received packet, a delivery - scheduled it). The session's enqueue marks
   * it active: the flush runs once this synchronous run of the caller ends, so the messages it queued
   * leave together, packed, before the event loop moves on.
   */
  protected override sendNowMs(): number {
    if (!this.flushScheduled) this.runNowMs = this.clock.nowMs();
    return this.runNowMs;
  }

  protected async closeTransport(): Promise<void> {
    this.pendingByLocalLow.clear();
    this.link.closed = true;
    this.impairment?.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  protected statsLabel(): string {
    return addressKey(this.address.host, this.address.port);
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

  // ================================================================== SessionHost (internal)

  /** @internal This session's share of the socket's receive buffer, in packets of `packetBytes`. */
  socketSharePackets(packetBytes: number): number {
    return this.receiveShare.sharePackets(packetBytes);
  }

  /** @internal Peers sending DATA to this endpoint now (at least 1). */
  activeSenders(): number {
    return this.receiveShare.senders;
  }

  private sendControl(session: Session, packet: Buffer): void {
    this.link.sendControl(session.stats, session.address, packet);
  }

  /**
   * @internal The session has something to send. Messages go in a microtask, i.e. as soon as the
   * caller's synchronous run ends (a request, a reply, a burst of small messages that then share
   * packets) instead of a loop phase later. Standalone acks, and sessions that used up their budget,
   * wait for `turnEnd` (setImmediate): a burst of arriving packets is acked once, and I/O is never
   * starved.
   */
  markActive(session: Session): void {
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

  // ================================================================== session table

  private freshLocalId(): bigint {
    for (;;) {
      const id = randomConnectionId();
      const low = Number(id & 0xffff_ffffn);
      if (!this.sessionsByLocalLow.has(low) && !this.pendingByLocalLow.has(low) && !this.retired.has(low))
        return id;
    }
  }

  protected override addSession(session: Session): void {
    super.addSession(session);
    this.sessionsByLocalLow.set(session.localLow, session);
  }

  protected forgetSession(session: Session, quietly: boolean): void {
    if (this.sessionsByLocalLow.get(session.localLow) === session)
      this.sessionsByLocalLow.delete(session.localLow);
    this.active.delete(session);
    if (quietly) return;
    this.retired.set(session.localLow, session.localHigh);
    while (this.retired.size > LIMITS.MAX_RETIRED_CONNECTION_IDS)
      this.retired.delete(this.retired.keys().next().value as number);
  }

  // ================================================================== timer and flush

  protected readonly onTick = (): void => {
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
    this.link.releaseSent();
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
    this.link.flush();
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
    this.link.flush();
    this.scheduleTurnEnd();
  };

  // ================================================================== receive path

  private readonly onDatagram = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.closed) return;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += buf.length;
    const view = this.view;
    const status = openDatagram(view, buf);
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
    this.link.sendRaw(packet, { host: rinfo.address, port: rinfo.port });
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
        this.link.sendRaw(p.challenge, p.address); // a repeated HELLO: the CHALLENGE was lost
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
    const { transcript, proof } = this.auth.challenge(
      { connectionId: hello.sourceConnectionId, incarnation: hello.incarnation, nonce: hello.nonce },
      { connectionId: localId, incarnation: this.incarnation, nonce },
    );
    const challenge = encodePacket({
      type: PacketType.CHALLENGE,
      connectionId: hello.sourceConnectionId,
      payload: encodeChallenge({
        sourceConnectionId: localId,
        incarnation: this.incarnation,
        nonce,
        maxPacketBytes: this.config.packetBytes,
        proof,
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
    this.link.sendRaw(challenge, address);
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
    if (!pending || !sameAddress || Number(pending.localId >> 32n) !== view.connectionIdHigh) {
      this.dropped.unauthenticated++;
      return;
    }
    const expected = this.auth.verifyConfirm(pending.transcript, proof);
    if (!expected) {
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
    if (old && old.remoteIncarnation > pending.hello.incarnation) {
      this.dropped.staleIncarnation++;
      return;
    }
    const { waiters, pinned } = this.takeOver(old);
    const session = new Session(this, this.link, key, pending.address, 'server', pending.localId, now);
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
    const confirmProof = this.auth.confirm(
      { connectionId: session.localConnectionId, incarnation: this.incarnation, nonce },
      { connectionId: body.sourceConnectionId, incarnation: body.incarnation, nonce: body.nonce },
      body.proof,
    );
    if (!confirmProof) {
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
      payload: confirmProof,
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
