/**
 * The sending half of a UDP session and the state it shares with the receiving half: the packet log,
 * acks, RTT, congestion and pacing, the send queue with its repair queue, and the packer that turns
 * fragments (and whole small messages, several per packet) into DATA packets, plus standalone ACKs,
 * HEARTBEATs and CLOSEs.
 *
 * Why a layer of the session and not a separate object: every packet built here reads the receive
 * side's state (SACK ranges, the window, delivered reports) and the other way round, so the three
 * files of a session (this one, pieces.ts for the path-MTU pieces and probes, session.ts for the
 * receive path and the timers) are one object split by concern. Each packet goes to the link with a
 * direct call (link.ts): no host closure per packet.
 */
import { LIMITS } from '../../core/limits.js';
import { AckBodyView } from '../../wire/control-bodies.js';
import {
  bodyOffset,
  recordHeaderBytes,
  writeHeader,
  writeRecordHeader,
  writeSackRange,
} from '../../wire/packet-codec.js';
import {
  AEAD_TAG_BYTES,
  BASE_PACKET_BYTES,
  DATA_OVERHEAD_BYTES,
  HEADER_BYTES,
  PIECE_RECORD_HEADER_BYTES,
  PacketType,
  RECORD_HEADER_BYTES,
  SACK_RANGE_BYTES,
} from '../../wire/packet-layout.js';
import { AckScheduler } from './ack-scheduler.js';
import type { PacketOpener, PacketSealer } from '../crypto/packet-aead.js';
import type { SessionKeys } from '../crypto/key-schedule.js';
import type { TransportConfig } from '../config.js';
import { CongestionController, Pacer } from './congestion.js';
import { FailureDetector } from '../failure-detector.js';
import { Inbox, type CompleteMessage } from './inbox.js';
import { FRAG_IN_FLIGHT, FRAG_LOST, OutgoingMessage } from '../outgoing-message.js';
import { PathMtuProber } from './path-mtu.js';
import { ReceivedPackets } from './received-packets.js';
import { RttEstimator } from './rtt-estimator.js';
import { SentPackets, type SentPacketSink } from './sent-packets.js';
import { SessionCore, type ArrivedMessage, type CoreHost } from '../session-core.js';
import type { PeerAddress } from '../types.js';
import type { DatagramLink } from '../link.js';

export interface SessionHost extends CoreHost {
  readonly config: TransportConfig;
  /**
   * This session's share of the endpoint socket's receive buffer in packets of `packetBytes`, split
   * between the peers sending to it now (receive-share.ts).
   */
  socketSharePackets(packetBytes: number): number;
  /** Peers sending DATA to the endpoint now (at least 1): acks are spaced by it (ack-scheduler.ts). */
  activeSenders(): number;
  /** The session wants its `pump` called soon (it has something to send). */
  markActive(session: PacketSender): void;
}

/** The pacing bucket holds this many endpoint ticks of the rate (timers run late on a busy machine). */
export const PACING_BURST_TICKS = 2;

/** New gaps after which an ack goes at once (half the ranges an ack carries). */
export const INLINE_ACK_GAPS = LIMITS.MAX_SACK_RANGES / 2;

/** Packets an expired RTO declares lost (the oldest ones): probes, not a whole window of resends. */
export const PROBE_PACKETS = 2;

/**
 * Pieces in the packet log: a fragment index alone is a whole fragment; a piece is stored as
 * -(PIECE_CODE_BASE + fragment * MAX_PIECES + piece), so acks and losses find both again.
 */
export const MAX_PIECES = 64;
export const PIECE_CODE_BASE = 2;
/** Bytes of a DATA piece packet beyond its payload (no SACK ranges). */
export const PIECE_OVERHEAD_BYTES = HEADER_BYTES + PIECE_RECORD_HEADER_BYTES;

export abstract class PacketSender extends SessionCore implements SentPacketSink<OutgoingMessage> {
  remoteHigh = 0;
  remoteLow = 0;
  /** Packet size sent now (the path-MTU search moves it between 1200 and maxPacketBytes). */
  packetBytes: number;
  chunkBytes: number;
  /** Largest packet size both sides allow (from the handshake). */
  maxPacketBytes: number;
  /** The path-MTU search (null until the handshake gives the maximum). */
  pmtu: PathMtuProber | null = null;
  /** Packet number of the probe in flight (0: none): no packet may let the peer give it up. */
  protected probePn = 0;
  /** A fragment being sent as pieces: the message, the fragment, the next piece to look at. */
  protected pieceMsg: OutgoingMessage | null = null;
  protected pieceFrag = 0;
  protected pieceNext = 0;

  // --- handshake (client side; the endpoint keeps the server's half-open state) ---
  handshakeStartedMs = 0;
  handshakeNextSendMs = 0;
  handshakeIntervalMs = 0;
  /** The last handshake packet this side sent (HELLO or CONFIRM as client, ACCEPT as server), for resends. */
  handshakePacket: Buffer | null = null;
  /** Proof a duplicate CONFIRM must carry (server side), to re-send ACCEPT. */
  expectedClientProof: Buffer | null = null;
  protected closeNextSendMs = 0;

  // --- per-packet protection (from the handshake; both null with encryption off) ---
  /** Seals what this side sends (AEAD), or null: the checksum. */
  sealer: PacketSealer | null = null;
  /** Opens what the peer sends (AEAD and replay window), or null: the checksum. */
  opener: PacketOpener | null = null;
  /** Bytes the seal adds to every packet (the AEAD tag, or 0): packets are built that much smaller. */
  sealBytes = 0;
  /** The token a RESET for this session must carry (learned in the handshake's sealed part). */
  resetToken: Buffer | null = null;
  /** Client: the keys of the handshake in progress (the ACCEPT's proof is checked against them). */
  handshakeKeys: SessionKeys | null = null;
  /** Client: the nonce of its HELLO (a REJECT must carry it). */
  helloNonce: Buffer | null = null;
  /** Client: the X25519 private key of the handshake in progress (dropped once keys are derived). */
  handshakePrivateKey: Buffer | null = null;
  /** Client: its HELLO's 72-byte fields (the transcript hash covers them). */
  helloFields: Buffer | null = null;

  // --- reliability ---
  protected readonly sent: SentPackets<OutgoingMessage>;
  protected readonly received = new ReceivedPackets();
  protected readonly acks: AckScheduler;
  readonly rtt: RttEstimator;
  readonly cc: CongestionController;
  protected readonly pacer: Pacer;
  protected readonly fd: FailureDetector;
  protected peerWindowPackets: number;
  protected inTimeout = false;

  // --- messages out ---
  protected sendCursor = 0;
  protected readonly retransmitMsgs: OutgoingMessage[] = [];
  protected readonly retransmitFrags: number[] = [];
  protected retransmitHead = 0;
  protected queuedPackets = 0;
  protected undeliveredReceived = 0;
  protected deliveryProgressMs = 0;
  protected deliveryProbeMs = 0;
  /** The previous delivered report (an ACK's body), whole: a repeat of it is skipped. */
  protected lastDeliveredBelow = -1;
  protected lastDeliveredCount = 0;
  protected readonly lastDeliveredStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  protected readonly lastDeliveredLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  // --- messages in ---
  readonly inbox: Inbox;
  protected deliveredDirty = false;
  /** Gaps seen since the last ack was sent (inline ack before they outnumber the SACK ranges). */
  protected gapsSinceAck = 0;
  /** When the pending delivered report must go (its own deadline: piggybacked packet acks do not carry it). */
  protected deliveredDueMs = Infinity;

  // --- scratch (no allocation per packet) ---
  protected readonly sackStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  protected readonly sackLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);
  protected readonly ackBody = new AckBodyView();
  /** Payload slices of the fragment being sent without a copy (refilled per packet). */
  protected readonly gatherSlices: Uint8Array[] = [];

  /** When DATA last arrived (the endpoint splits its socket buffer between the peers sending now). */
  dataReceivedAtMs = -Infinity;

  /** Set by the endpoint before each batch of work, for callbacks that carry no time. */
  lastNowMs = 0;

  constructor(
    protected override readonly host: SessionHost,
    protected readonly link: DatagramLink,
    id: string,
    address: PeerAddress,
    role: 'client' | 'server',
    localConnectionId: bigint,
    nowMs: number,
  ) {
    super(host, id, address, role, localConnectionId);
    const c = host.config;
    this.packetBytes = c.packetBytes;
    this.chunkBytes = c.packetBytes - DATA_OVERHEAD_BYTES;
    this.maxPacketBytes = c.packetBytes;
    this.sent = new SentPackets<OutgoingMessage>(c.maxInFlightPackets * 2, this);
    this.acks = new AckScheduler(c.ackDelayMs, c.ackEveryPackets, c.initialCwndPackets);
    this.rtt = new RttEstimator(c.initialRtoMs, c.minRtoMs, c.maxRtoMs, c.tickMs + c.ackDelayMs);
    this.cc = new CongestionController(
      c.initialCwndPackets,
      c.minCwndPackets,
      c.maxInFlightPackets,
      // a busy flow is acked every ackEveryPackets packets within a loop turn or two; on a busy
      // receiver the wait in its socket buffer looks the same: two ticks of room for it
      2 * c.tickMs,
    );
    this.pacer = new Pacer(Math.min(c.initialCwndPackets, 64), PACING_BURST_TICKS * c.tickMs);
    this.fd = new FailureDetector(c.heartbeatStartMs, c.heartbeatIntervalMs, c.heartbeatTimeoutMs, nowMs);
    this.peerWindowPackets = c.initialCwndPackets;
    this.inbox = new Inbox(c.maxReassemblyBytes, c.maxMessageBytes, () => this.onInboxDelivered());
    this.handshakeStartedMs = nowMs;
  }

  get localHigh(): number {
    return Number(this.localConnectionId >> 32n);
  }

  get localLow(): number {
    return Number(this.localConnectionId & 0xffff_ffffn);
  }

  /**
   * Seals this session's packets with the handshake's keys (encryption on); call before `establish`,
   * which sizes packets for the tag.
   */
  useKeys(keys: SessionKeys): void {
    this.sealer = keys.sealer(this.role);
    this.opener = keys.opener(this.role);
    this.sealBytes = AEAD_TAG_BYTES;
  }

  /** The handshake finished: learn the peer and open the data path. */
  establish(
    remoteId: bigint,
    remoteIncarnation: number,
    peerPacketBytes: number,
    nowMs: number,
    handshakeRttMs = -1,
  ): void {
    // The handshake's round trip (an overestimate if a packet was resent) seeds the RTT, so the first
    // message is paced and timed by the path, not by initialRtoMs.
    if (handshakeRttMs >= 0) this.rtt.sample(handshakeRttMs);
    this.remoteConnectionId = remoteId;
    this.remoteHigh = Number(remoteId >> 32n);
    this.remoteLow = Number(remoteId & 0xffff_ffffn);
    this.remoteIncarnation = remoteIncarnation;
    const c = this.host.config;
    this.maxPacketBytes = Math.min(c.packetBytes, peerPacketBytes);
    this.pmtu = new PathMtuProber(
      {
        baseBytes: BASE_PACKET_BYTES,
        maxBytes: this.maxPacketBytes,
        startBytes: c.pmtuStartBytes,
        granularityBytes: c.pmtuGranularityBytes,
        maxProbes: c.pmtuMaxProbes,
        reprobeIntervalMs: c.pmtuReprobeMs,
        blackHoleLosses: c.pmtuBlackHoleLosses,
        enabled: c.pmtuProbe,
      },
      nowMs,
    );
    this.applyPacketSize();
    this.fd.onHeard(nowMs);
    this.fd.onSent(nowMs);
  }

  /** Starts handing complete messages to the application (once it has a handler). */
  enableDelivery(): void {
    this.inbox.setDispatch((m) => this.host.dispatch(this, m));
  }

  handled(msg: ArrivedMessage): void {
    this.inbox.onHandled(msg as CompleteMessage);
  }

  // ------------------------------------------------------------------ sending

  /** Why a message of `sizeBytes` cannot be queued now, or null when it can. */
  refusal(sizeBytes: number): 'BACK_PRESSURED' | 'NOT_CONNECTED' | 'MESSAGE_TOO_LARGE' | null {
    const c = this.host.config;
    const base = this.baseRefusal(sizeBytes);
    if (base) return base;
    const fragments = sizeBytes === 0 ? 1 : Math.ceil(sizeBytes / this.chunkBytes);
    const full =
      (this.queuedBytes > 0 && this.queuedBytes + sizeBytes > c.maxQueuedBytes) ||
      (this.queuedPackets > 0 && this.queuedPackets + fragments > c.maxQueuedPackets);
    if (!full) return null;
    this.lastRefusedBytes = sizeBytes;
    return 'BACK_PRESSURED';
  }

  /** Size of the last message refused for queue room: `writable` waits until one that size fits. */
  protected lastRefusedBytes = 0;

  /** Queues a message (check `refusal` first). */
  enqueue(
    messageId: number,
    mode: 'unordered' | 'fifo',
    pieces: readonly Uint8Array[],
    sizeBytes: number,
    nowMs: number,
  ): OutgoingMessage {
    const fifoSeq = mode === 'fifo' ? this.takeFifoSeq() : 0;
    const msg = new OutgoingMessage(
      messageId,
      this.id,
      this.nextSeq++,
      fifoSeq,
      mode,
      pieces,
      sizeBytes,
      this.chunkBytes,
      nowMs,
    );
    this.outgoing.push(msg);
    this.queuedBytes += sizeBytes;
    this.queuedPackets += msg.fragmentCount;
    this.host.markActive(this);
    return msg;
  }

  /**
   * Sends what the windows allow, up to `budget` packets; returns how many went. With `acks` false
   * only data goes (with its piggybacked ack fields): a standalone ACK waits for the end of the loop
   * turn, so a burst of arriving packets is acked once.
   */
  pump(nowMs: number, budget: number, acks = true): number {
    if (this.state === 'connecting' || this.ended) return 0;
    let sentCount = 0;
    if (this.state === 'connected') sentCount = this.pumpData(nowMs, budget);
    if (!acks) return sentCount;
    if (this.acks.isDue(nowMs) || (this.deliveredDirty && nowMs >= this.deliveredDueMs)) {
      if (this.sendAck()) sentCount++;
    }
    return sentCount;
  }

  protected pumpData(nowMs: number, budget: number): number {
    this.pacer.refill(nowMs, this.cc.pacingPacketsPerMs(this.rtt.smoothedOrInitialMs));
    const cwnd = this.cc.windowPackets(this.rtt.minRttMs);
    let n = 0;
    while (n < budget) {
      const window = Math.min(cwnd, Math.max(this.peerWindowPackets, this.sent.inFlight === 0 ? 1 : 0));
      if (this.sent.inFlight >= window || !this.sent.hasRoom()) break;
      if (!this.pacer.canSend()) break;
      // the buffer first: a fragment picked and then not sent would never be sent
      const buf = this.link.acquire();
      if (!buf) break;
      if (this.pieceMsg !== null) {
        if (this.sendNextPiece(buf, nowMs)) n++;
        continue;
      }
      if (!this.peekFragment()) {
        this.link.release(buf);
        if (this.sent.inFlight < window) this.sent.markAppLimited();
        break;
      }
      const msg = this.pickedMsg!;
      const frag = this.pickedFrag;
      if (msg.fragmentLength(frag) > this.chunkBytes) {
        // cut for a larger packet size than the path carries now: send it as pieces
        this.link.release(buf);
        this.takePicked();
        if (!this.startPieces(msg, frag)) break;
        continue;
      }
      if (!this.sendData(buf, nowMs)) break;
      n++;
    }
    return n;
  }

  /** Takes the prober's packet size (new messages are cut for it; older fragments go as pieces). */
  protected applyPacketSize(): void {
    // the prober's sizes are datagram sizes; packets are built smaller by the seal's tag
    const size = (this.pmtu?.currentBytes ?? this.maxPacketBytes) - this.sealBytes;
    if (size === this.packetBytes) return;
    this.packetBytes = size;
    this.chunkBytes = size - DATA_OVERHEAD_BYTES;
  }

  /** The least-unacked field for a packet numbered `pn`: never past a probe still in flight. */
  protected leastUnackedFor(pn: number): number {
    const least = Math.min(this.sent.leastUnacked, pn);
    return this.probePn > 0 ? Math.min(least, this.probePn) : least;
  }

  ackDue(nowMs: number): boolean {
    return this.acks.isDue(nowMs) || (this.deliveredDirty && nowMs >= this.deliveredDueMs);
  }

  /** True when there is data the windows would let go (the endpoint keeps its timer fast then). */
  get busy(): boolean {
    return (
      this.sent.inFlight > 0 ||
      this.acks.pending ||
      this.deliveredDirty ||
      this.retransmitHead < this.retransmitMsgs.length ||
      this.sendCursor < this.outgoing.length ||
      this.undeliveredReceived > 0 ||
      this.pieceMsg !== null ||
      this.pmtu?.isSearching === true ||
      this.state === 'connecting' ||
      this.state === 'closing'
    );
  }

  protected pickedMsg: OutgoingMessage | null = null;
  protected pickedFrag = 0;
  /** The picked fragment is a repair (at the head of the retransmit queue), not new data. */
  protected pickedRepair = false;

  /**
   * Finds the next fragment to send without taking it: repairs first, then new data in message
   * order. `takePicked` takes it (a packet takes several small ones while they fit).
   */
  protected peekFragment(): boolean {
    while (this.retransmitHead < this.retransmitMsgs.length) {
      const msg = this.retransmitMsgs[this.retransmitHead]!;
      const frag = this.retransmitFrags[this.retransmitHead]!;
      if (msg.retired || msg.fragState[frag] !== FRAG_LOST) {
        this.popRetransmit();
        continue;
      }
      this.pickedMsg = msg;
      this.pickedFrag = frag;
      this.pickedRepair = true;
      return true;
    }
    if (this.sendCursor < this.outHead) this.sendCursor = this.outHead;
    while (this.sendCursor < this.outgoing.length) {
      const msg = this.outgoing[this.sendCursor]!;
      if (msg.retired || msg.nextUnsent >= msg.fragmentCount) {
        this.sendCursor++;
        continue;
      }
      this.pickedMsg = msg;
      this.pickedFrag = msg.nextUnsent;
      this.pickedRepair = false;
      return true;
    }
    return false;
  }

  /** Takes the fragment `peekFragment` found. */
  protected takePicked(): void {
    if (this.pickedRepair) {
      this.popRetransmit();
      return;
    }
    const msg = this.pickedMsg!;
    msg.nextUnsent++;
    if (msg.nextUnsent >= msg.fragmentCount) this.sendCursor++;
    if (msg.state === 'queued') msg.state = 'sending';
  }

  protected popRetransmit(): void {
    this.retransmitHead++;
    if (this.retransmitHead === this.retransmitMsgs.length) {
      this.retransmitMsgs.length = 0;
      this.retransmitFrags.length = 0;
      this.retransmitHead = 0;
    }
  }

  /**
   * Sends one DATA packet starting with the picked fragment. A fragment of a large message travels
   * alone; whole small messages are packed behind each other while they fit the packet (and the
   * record limits), so a burst of small messages costs a few packets, not one each.
   */
  protected sendData(buf: Buffer, nowMs: number): boolean {
    const c = this.host.config;
    const first = this.pickedMsg!;
    if (first.sendCount[this.pickedFrag]! >= c.maxRetransmits) {
      this.releaseUnsent(buf);
      this.end('dead', 'PEER_DEAD');
      return false;
    }
    const firstBytes = recordHeaderBytes(first.fragmentCount) + first.fragmentLength(this.pickedFrag);
    const room = Math.floor((this.packetBytes - HEADER_BYTES - firstBytes) / SACK_RANGE_BYTES);
    const sackCount = this.received.highestRanges(
      this.sackStarts,
      this.sackLengths,
      Math.min(room, LIMITS.MAX_SACK_RANGES),
    );
    const cumAck = this.received.cumulativeAck;
    const leastUnacked = this.sent.leastUnacked;
    const pn = this.sent.takeTracked(null, 0, 0, nowMs);
    const bodyStart = bodyOffset(sackCount);
    let at = bodyStart;
    let records = 0;
    let repairs = 0;
    for (;;) {
      const msg = this.pickedMsg!;
      const frag = this.pickedFrag;
      if (msg.sendCount[frag]! > 0) repairs++;
      this.takePicked();
      at = this.writeRecord(buf, at, msg, frag, msg.fragmentCount > 1);
      if (at < 0) return this.refuseHole(buf);
      this.sent.addRecord(msg, frag, msg.fragmentLength(frag));
      records++;
      if (msg.fragmentCount > 1 || !this.mayAddRecord(records, at)) break;
    }
    if (repairs > 0) this.stats.retransmits++;
    this.sent.setLastPacketBytes(at);
    this.writeSessionHeader(
      buf,
      PacketType.DATA,
      0,
      sackCount,
      at - bodyStart,
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
    );
    this.pacer.onSent();
    this.fd.onSent(nowMs);
    if (sackCount === this.received.rangeCount && this.acks.pending) this.acks.onAckSent();
    if (this.gatherCount === 0) this.link.send(this.stats, this.address, buf, at, undefined, 0, this.sealer);
    else
      this.link.send(
        this.stats,
        this.address,
        buf,
        this.gatherAt,
        this.gatherSlices,
        this.gatherCount,
        this.sealer,
      );
    return true;
  }

  /** True when the next fragment is a whole message that fits behind the records so far (peeked). */
  protected mayAddRecord(records: number, at: number): boolean {
    if (records >= LIMITS.MAX_RECORDS_PER_PACKET || this.sent.recordRoom() <= 0) return false;
    if (!this.peekFragment()) return false;
    const next = this.pickedMsg!;
    if (next.fragmentCount > 1 || at + RECORD_HEADER_BYTES + next.sizeBytes > this.packetBytes) return false;
    // a message at its retransmission limit starts the next packet, where that ends the session
    return next.sendCount[this.pickedFrag]! < this.host.config.maxRetransmits;
  }

  /** Slices the last record went out as (0: its bytes were copied into the packet buffer), and where. */
  protected gatherCount = 0;
  protected gatherAt = 0;

  /**
   * Writes fragment `frag` of `msg` as a record at `at` (bytes copied, or left as slices when `gather`);
   * returns where the next record goes, or -1 when the message no longer holds those bytes.
   */
  protected writeRecord(
    buf: Buffer,
    at: number,
    msg: OutgoingMessage,
    frag: number,
    gather: boolean,
  ): number {
    const bytes = msg.fragmentLength(frag);
    const dataAt = writeRecordHeader(
      buf,
      at,
      msg.seq,
      msg.fifoSeq,
      bytes,
      msg.sizeBytes,
      msg.fragmentOffset(frag),
      frag,
      msg.fragmentCount,
    );
    // a large fragment (alone in its packet) goes as slices of the message's own bytes, no copy
    const sliceCount =
      gather && bytes >= LIMITS.GATHER_MIN_PAYLOAD_BYTES
        ? msg.fragmentSlices(frag, this.gatherSlices, LIMITS.MAX_GATHER_SLICES)
        : -1;
    if (sliceCount < 0) {
      const copied = msg.copyFragment(frag, buf, dataAt);
      if (copied < 0) return -1;
      this.copiedOutBytes += copied;
    }
    this.gatherCount = Math.max(0, sliceCount);
    this.gatherAt = dataAt;
    msg.sendCount[frag]!++;
    msg.fragState[frag] = FRAG_IN_FLIGHT;
    this.stats.payloadBytesSent += bytes;
    return dataAt + bytes;
  }

  /**
   * A fragment or piece whose bytes the message no longer holds (a defect: a message still sent keeps
   * its bytes until retired). Nothing goes on the wire; the session ends, so the peer's partial copy
   * is let go with it instead of waiting forever for bytes that will never come.
   */
  protected refuseHole(buf: Buffer): false {
    this.link.release(buf);
    this.end('dead', 'INTERNAL');
    return false;
  }

  protected releaseUnsent(buf: Buffer): void {
    this.link.release(buf);
  }

  /**
   * Writes this session's packet header (the peer's connection id, the acks, the receive window) and
   * the first `sackCount` SACK ranges of the scratch arrays: every packet a session builds starts so.
   */
  protected writeSessionHeader(
    buf: Buffer,
    type: number,
    flags: number,
    sackCount: number,
    bodyBytes: number,
    pn: number,
    cumAck: number,
    leastUnacked: number,
  ): void {
    writeHeader(
      buf,
      type,
      flags,
      sackCount,
      bodyBytes,
      this.remoteHigh,
      this.remoteLow,
      pn,
      cumAck,
      leastUnacked,
      this.receiveWindow(),
    );
    for (let i = 0; i < sackCount; i++)
      writeSackRange(buf, i, cumAck, this.sackStarts[i]!, this.sackLengths[i]!);
  }

  protected receiveWindow(): number {
    // Also never more than the socket can buffer while this process is busy: beyond it, a burst is
    // dropped by the kernel (65 KB datagrams overflow a 4 MiB buffer at 64 packets).
    const max = Math.min(this.host.config.maxInFlightPackets, this.host.socketSharePackets(this.packetBytes));
    return this.inbox.windowPackets(this.chunkBytes, max);
  }

  // ------------------------------------------------------------------ what the other layers add

  /** Sends the next piece of the fragment being sent as pieces (pieces.ts). */
  protected abstract sendNextPiece(buf: Buffer, nowMs: number): boolean;
  /** Starts sending fragment `frag` of `msg` as pieces (pieces.ts). */
  protected abstract startPieces(msg: OutgoingMessage, frag: number): boolean;
  /** Sends a standalone ACK (session.ts). */
  protected abstract sendAck(): boolean;
  /** A message's last fragment was acked (session.ts). */
  protected abstract onMessageReceived(msg: OutgoingMessage): void;
  /** The inbox handed a message over (session.ts). */
  protected abstract onInboxDelivered(): void;
  abstract onPacketAcked(msg: OutgoingMessage, frag: number, bytes: number): void;
  abstract onPacketLost(msg: OutgoingMessage | null, frag: number, pn: number, bytes: number): void;
  abstract onSpuriousLoss(): void;
}
