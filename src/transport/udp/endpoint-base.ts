/**
 * The UDP endpoint's machinery below its handshake: the socket and its link (link.ts), the tables of
 * sessions by connection id and of half-open handshakes, the demultiplexing of received datagrams,
 * resets, the timer's work and the flush loop that pumps active sessions.
 *
 * Why apart from endpoint.ts: this is the per-packet path (every datagram is opened and decoded into
 * one reused PacketView, then handed to its session or dropped and counted); the handshake halves in
 * endpoint.ts run a few times per session. With impairment on (option or FERRY_IMPAIR), every received
 * datagram passes through it first; with it off, the path has no extra step.
 *
 * The socket is one of two, chosen at start-up (endpoint.ts): node:dgram behind `UdpLink`, or the
 * native socket behind `NativeLink` (sendmmsg + GSO, recvmmsg + GRO into one slab). Either hands each
 * datagram to `onDatagram` (the DatagramSink) as a view valid for that call; the source is copied
 * into one reused `from` object, so nothing on this path keeps the view or the address past the call.
 */
import dgram from 'node:dgram';
import { type Clock } from '../../core/clock.js';
import { LIMITS } from '../../core/limits.js';
import { decodeResetToken, RESET_BYTES } from '../../wire/control-bodies.js';
import { encodePacket, PacketView, readU64 } from '../../wire/packet-codec.js';
import { HEADER_BYTES, PACKET_NUMBER_OFFSET, PacketType } from '../../wire/packet-layout.js';
import { type TransportConfig } from '../config.js';
import { addressKey, EndpointShell } from '../endpoint-shell.js';
import { bytesEqual } from '../crypto/key-schedule.js';
import { randomConnectionId } from '../handshake-auth.js';
import { Impairment, type ImpairmentStats } from '../impair/impairment.js';
import { ReceiveMemory, receiveMemoryStats } from '../receive-memory.js';
import { ReceiveShare } from './receive-share.js';
import type { DatagramSink } from '../link.js';
import type { NativeUdpSocket } from '../native/native-udp-socket.js';
import {
  isUnsealedType,
  openDatagram,
  peekConnectionIdHigh,
  peekConnectionIdLow,
  peekHeader,
  peekType,
} from '../seal.js';
import type { EndpointStats, SocketPathStats } from '../types.js';
import { UdpLink } from './link.js';
import { NativeLink } from './native-link.js';
import { Session, type SessionHost } from './session.js';
import { aeadKind } from '../crypto/native-aead.js';

/** The endpoint's bound socket: node:dgram (the fallback) or the native addon's. */
export type BoundSocket =
  | { readonly kind: 'js'; readonly socket: dgram.Socket }
  | { readonly kind: 'native'; readonly socket: NativeUdpSocket };

/** Where a received datagram came from (one reused object per endpoint; copy what must outlive a call). */
export interface DatagramSource {
  address: string;
  port: number;
}

const SEND_BUDGET_PER_SESSION = 128;
export const IDLE_TICK_MS = 50;
const TWO_32 = 0x1_0000_0000;
/** Settled once: `.then(f)` runs f in a microtask (the flush after a synchronous run of sends). */
const SETTLED = Promise.resolve();

export abstract class UdpEndpointBase extends EndpointShell<Session> implements SessionHost, DatagramSink {
  declare readonly config: TransportConfig;
  protected readonly bound: BoundSocket;
  protected readonly impairment: Impairment | null;
  /** The socket's link: pool, seal, gathered or batched sends (direct calls from the sessions). */
  protected readonly link: UdpLink | NativeLink;
  /** The source of the datagram being handled (reused: set per datagram). */
  private readonly from: DatagramSource = { address: '', port: 0 };
  protected readonly view = new PacketView();

  protected readonly sessionsByLocalLow = new Map<number, Session>();
  protected readonly retired = new Map<number, number>(); // local id low word -> high word
  protected readonly active = new Set<Session>();
  protected flushScheduled = false;
  protected turnEndScheduled = false;
  /** The clock when the current run began (set whenever a flush gets scheduled; valid while flushScheduled). */
  protected runNowMs = 0;
  /** The socket's receive buffer as the kernel granted it, split between the peers sending to us (counted each tick). */
  protected readonly receiveShare: ReceiveShare;
  /** Every session's received messages are charged here too, under maxReceiveMemoryBytes (receive-memory.ts). */
  readonly receiveMemory: ReceiveMemory;
  protected resetsThisSecond = 0;
  protected resetWindowStartMs = 0;
  protected readonly closeTickMs: number;
  /** Whether this endpoint's sessions are sealed (BindOptions.encrypt); both sides must agree. */
  readonly encrypt: boolean;

  protected constructor(
    bound: BoundSocket,
    family: 4 | 6,
    config: TransportConfig,
    clock: Clock,
    secret: Buffer | null,
    impairment: Impairment | null,
    encrypt: boolean,
  ) {
    super(config, clock, family, UdpEndpointBase.boundAddress(bound), secret, 'is bound to');
    this.encrypt = encrypt;
    this.bound = bound;
    this.impairment = impairment;
    this.closeTickMs = config.tickMs;
    this.receiveMemory = new ReceiveMemory(config.maxReceiveMemoryBytes);
    const onPoolRefilled = (): void => {
      for (const s of this.sessionsByAddress.values()) if (s.busy) this.markActive(s);
    };
    if (bound.kind === 'native') {
      const socket = bound.socket;
      this.receiveShare = new ReceiveShare(socket.recvBufferBytes || config.recvBufferBytes);
      const link = new NativeLink(
        socket,
        config.packetBytes,
        config.sendPoolBytes,
        this.counters,
        onPoolRefilled,
      );
      this.link = link;
      link.startReceiving(impairment ? { onDatagram: this.onImpairedNative } : this);
    } else {
      const socket = bound.socket;
      this.receiveShare = new ReceiveShare(
        UdpEndpointBase.receiveBufferBytes(socket, config.recvBufferBytes),
      );
      this.link = new UdpLink(
        socket,
        config.packetBytes,
        config.sendPoolBytes,
        config.nativeSend,
        this.counters,
        onPoolRefilled,
      );
      if (impairment)
        socket.on('message', (msg, rinfo) => impairment.process(msg, rinfo, this.onImpairedDatagram));
      else socket.on('message', this.onDgramMessage);
      socket.on('error', () => {
        // a send to an unreachable port reports ICMP errors here; loss is the protocol's business
      });
    }
  }

  private static boundAddress(bound: BoundSocket): { address: string; port: number } {
    if (bound.kind === 'js') return bound.socket.address();
    const a = bound.socket.address();
    return { address: a.host, port: a.port };
  }

  /** The receive buffer the kernel granted (it may cap the request at net.core.rmem_max). */
  private static receiveBufferBytes(socket: dgram.Socket, requestedBytes: number): number {
    try {
      return socket.getRecvBufferSize();
    } catch {
      return requestedBytes;
    }
  }

  // ================================================================== the shell's hooks

  protected override onPayloadReuse(on: boolean): void {
    this.receiveMemory.reusePayloads(on);
  }

  protected blacklistSession(session: Session): void {
    session.sendCloseNotice(this.clock.nowMs());
    session.end('blacklisted', 'PEER_BLACKLISTED');
  }

  /** The server keeps no half-open handshakes (the cookie carries them): nothing to drop. */
  protected dropPendingFrom(_key: string): void {}

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
    this.impairment?.close();
    const bound = this.bound;
    if (bound.kind === 'native') {
      (this.link as NativeLink).close(); // what is queued (a CLOSE notice) goes first
      bound.socket.close();
      return;
    }
    this.link.closed = true;
    await new Promise<void>((resolve) => bound.socket.close(() => resolve()));
  }

  protected statsLabel(): string {
    return `${addressKey(this.address.host, this.address.port)} (${this.bound.kind} socket)`;
  }

  /** The shell's stats plus the counters sent and received through the link, and the socket path. */
  override stats(): EndpointStats {
    const s = super.stats();
    s.socket = this.socketPathStats();
    if (this.impairment) s.impairment = { source: this.impairment.source, ...this.impairment.stats() };
    s.receiveMemory = receiveMemoryStats(this.receiveMemory);
    if (this.encrypt) s.aead = aeadKind();
    return s;
  }

  /** Which socket runs, what the kernel offers it, and how many datagrams each system call moved. */
  socketPathStats(): SocketPathStats {
    const bound = this.bound;
    if (bound.kind === 'js') {
      const sent = this.counters.packetsSent;
      const received = this.counters.packetsReceived;
      return {
        kind: 'js',
        gso: false,
        gro: false,
        sendSyscalls: sent,
        sentDatagrams: sent,
        datagramsPerSend: sent > 0 ? 1 : 0,
        receiveSyscalls: received,
        receivedDatagrams: received,
        datagramsPerReceive: received > 0 ? 1 : 0,
        droppedQueueFull: 0,
        sendErrors: (this.link as UdpLink).sendErrors,
      };
    }
    const n = bound.socket.stats;
    const sent = this.counters.packetsSent;
    const received = this.counters.packetsReceived;
    return {
      kind: 'native',
      gso: bound.socket.gso,
      gro: bound.socket.gro,
      sendSyscalls: n.sendSyscalls,
      sentDatagrams: sent,
      datagramsPerSend: n.sendSyscalls > 0 ? sent / n.sendSyscalls : 0,
      receiveSyscalls: n.recvSyscalls,
      receivedDatagrams: received,
      datagramsPerReceive: n.recvSyscalls > 0 ? received / n.recvSyscalls : 0,
      droppedQueueFull: (this.link as NativeLink).droppedFull,
      sendErrors: 0,
    };
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
    /** Bytes charged to the endpoint's receive memory (maxReceiveMemoryBytes) over all sessions. */
    receiveMemoryBytes: number;
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
      pendingHandshakes: 0, // none: the server's handshake state travels in its cookie
      partialMessages,
      reassemblyBytes,
      receiveMemoryBytes: this.receiveMemory.usedBytes,
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

  protected sendControl(session: Session, packet: Buffer): void {
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

  protected freshLocalId(): bigint {
    for (;;) {
      const id = randomConnectionId();
      const low = Number(id & 0xffff_ffffn);
      if (!this.sessionsByLocalLow.has(low) && !this.retired.has(low)) return id;
    }
  }

  protected override addSession(session: Session): void {
    super.addSession(session);
    session.inbox.memory = this.receiveMemory;
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
    this.turnEnd();
    this.link.releaseSent();
    if (busy) this.ensureTimer(this.config.tickMs);
    else if (this.sessionsByAddress.size > 0) this.ensureTimer(IDLE_TICK_MS);
  };

  /**
   * Microtask flush: data of the active sessions, acks riding along. Only a session that still owes
   * a standalone ack (or used its whole budget) waits for turnEnd: a reply that carried the ack of
   * its request leaves nothing for the end of the turn.
   */
  protected readonly flush = (): void => {
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

  protected scheduleTurnEnd(): void {
    if (this.turnEndScheduled || this.active.size === 0) return;
    this.turnEndScheduled = true;
    setImmediate(this.turnEnd);
  }

  /** End of a loop turn: data and acks of every active session; a session that used its budget stays. */
  protected readonly turnEnd = (): void => {
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

  /** dgram's 'message' event: a fresh buffer per datagram (Node never reuses it). */
  private readonly onDgramMessage = (buf: Buffer, rinfo: DatagramSource): void => {
    this.onDatagram(buf, rinfo.address, rinfo.port);
  };

  /** What the impairment delivers (now, or later as its own copy). */
  private readonly onImpairedDatagram = (buf: Buffer, rinfo: DatagramSource): void => {
    this.onDatagram(buf, rinfo.address, rinfo.port);
  };

  /**
   * A slab view through the impairment: it copies whatever it holds, but the source must be an object
   * of its own too (impairment is a test and lab tool: the allocation is its price).
   */
  private readonly onImpairedNative = (buf: Buffer, fromHost: string, fromPort: number): void => {
    this.impairment!.process(buf, { address: fromHost, port: fromPort }, this.onImpairedDatagram);
  };

  /**
   * DatagramSink: one received datagram, a view valid for this call only (the native link's slab is
   * reused after it): it is opened and decoded in place and whatever must outlive the call is copied
   * (the inbox copies fragments and, from a slab, single-fragment messages too).
   *
   * Only the demultiplexing header (version, type, connection id) is read before the session is found;
   * a sealed session's packet is then opened (tag, replay window) before anything else of it is read.
   */
  onDatagram(buf: Buffer, fromHost: string, fromPort: number): void {
    if (this.closed) return;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += buf.length;
    const peek = peekHeader(buf);
    if (peek !== 'ok') {
      this.dropped[peek]++;
      return;
    }
    const rinfo = this.from;
    rinfo.address = fromHost;
    rinfo.port = fromPort;
    const view = this.view;
    const type = peekType(buf);
    if (isUnsealedType(type)) {
      const status = openDatagram(view, buf);
      if (status !== 'ok') {
        this.dropped[status]++;
        return;
      }
      return this.onHandshakePacket(view, rinfo);
    }
    const session = this.sessionAt(peekConnectionIdHigh(buf), peekConnectionIdLow(buf), rinfo);
    if (!session) return this.onNoSession(buf, rinfo);
    // a packet number far beyond the cumulative ack fits no ACK's ranges (and would slide the
    // replay window past the peer's real packets): refused before the open
    if (!session.packetNumberInReach(readU64(buf, PACKET_NUMBER_OFFSET))) {
      this.dropped.malformed++;
      return;
    }
    const status = openDatagram(view, buf, session.opener);
    if (status !== 'ok') {
      this.dropped[status]++;
      // an ACCEPT that does not open came from someone without the handshake's keys
      if (status === 'badSeal' && type === PacketType.ACCEPT) this.onForgedAccept(session);
      return;
    }
    if (view.type === PacketType.ACCEPT) return this.onAccept(view, session);
    const now = this.clock.nowMs();
    session.lastNowMs = now;
    if (!session.onPacket(view, now)) this.dropped.malformed++;
  }

  private onHandshakePacket(view: PacketView, rinfo: DatagramSource): void {
    switch (view.type) {
      case PacketType.HELLO:
        return this.onHello(view, rinfo);
      case PacketType.CONFIRM:
        return this.onConfirm(view, rinfo);
      case PacketType.CHALLENGE:
        return this.onChallenge(view, rinfo);
      case PacketType.REJECT:
        return this.onReject(view, rinfo);
      default:
        return this.onReset(view, rinfo);
    }
  }

  /** The session with local connection id (high, low) whose peer is at `rinfo`. */
  protected sessionAt(high: number, low: number, rinfo: DatagramSource): Session | undefined {
    const s = this.sessionsByLocalLow.get(low);
    if (!s || s.localHigh !== high) return undefined;
    if (s.address.port !== rinfo.port || s.address.host !== rinfo.address) return undefined;
    return s;
  }

  /** The session this packet is addressed to, if the connection id and the sender's address match. */
  protected sessionFor(view: PacketView, rinfo: DatagramSource): Session | undefined {
    return this.sessionAt(view.connectionIdHigh, view.connectionIdLow, rinfo);
  }

  /** A session packet (by its type) for no session of ours: counted, and maybe answered by a RESET. */
  protected onNoSession(buf: Buffer, rinfo: DatagramSource): void {
    if (this.blacklisted.has(addressKey(rinfo.address, rinfo.port))) {
      this.dropped.blacklisted++;
      return;
    }
    const high = peekConnectionIdHigh(buf);
    const low = peekConnectionIdLow(buf);
    const type = peekType(buf);
    const retiredHigh = this.retired.get(low);
    if (retiredHigh === high) this.dropped.staleIncarnation++;
    else this.dropped.unknownSession++;
    if (type === PacketType.CLOSE && retiredHigh === high) return;
    // A peer that still believes in a session we do not have learns so at once, instead of silently
    // getting a new one: answer its ack-eliciting packets with a RESET (rate-limited, never larger
    // than the datagram it answers).
    if (type === PacketType.HEARTBEAT || type === PacketType.DATA || type === PacketType.PROBE)
      this.sendReset(high, low, buf.length, rinfo);
  }

  /** Bytes of a RESET packet. */
  static readonly RESET_PACKET_BYTES = HEADER_BYTES + RESET_BYTES;

  protected sendReset(high: number, low: number, causeBytes: number, rinfo: DatagramSource): void {
    if (causeBytes < UdpEndpointBase.RESET_PACKET_BYTES) return;
    const now = this.clock.nowMs();
    if (now - this.resetWindowStartMs >= 1000) {
      this.resetWindowStartMs = now;
      this.resetsThisSecond = 0;
    }
    if (this.resetsThisSecond >= LIMITS.MAX_RESETS_PER_SEC) return;
    this.resetsThisSecond++;
    const id = BigInt(high) * BigInt(TWO_32) + BigInt(low);
    const packet = encodePacket({
      type: PacketType.RESET,
      connectionId: id,
      payload: this.auth.resetToken(id, addressKey(rinfo.address, rinfo.port)),
    });
    this.link.sendRaw(packet, { host: rinfo.address, port: rinfo.port });
  }

  protected onReset(view: PacketView, rinfo: DatagramSource): void {
    const session = this.sessionsByAddress.get(addressKey(rinfo.address, rinfo.port));
    const id = BigInt(view.connectionIdHigh) * BigInt(TWO_32) + BigInt(view.connectionIdLow);
    const token = decodeResetToken(view.payload());
    if (!session || session.remoteConnectionId !== id || !token) {
      this.dropped.unknownSession++;
      return;
    }
    if (!session.resetToken || !bytesEqual(token, session.resetToken)) {
      this.dropped.unauthenticated++;
      return;
    }
    session.end('reset', 'PEER_RESET');
  }

  // ================================================================== the handshake (endpoint.ts)

  protected abstract onHello(view: PacketView, rinfo: DatagramSource): void;
  protected abstract onConfirm(view: PacketView, rinfo: DatagramSource): void;
  protected abstract onChallenge(view: PacketView, rinfo: DatagramSource): void;
  protected abstract onAccept(view: PacketView, session: Session): void;
  protected abstract onReject(view: PacketView, rinfo: DatagramSource): void;
  protected abstract onForgedAccept(session: Session): void;
}
