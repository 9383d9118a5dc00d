/**
 * One session with one peer: the handshake state it was born from, the reliability machinery
 * (packet log, acks, RTO, congestion, pacing), the send queue of messages, the inbox, liveness, and
 * the session's end.
 *
 * Why one object per peer: every packet of a session touches several of these parts, and keeping
 * them together makes the session's end (dead, reset, closed) one place that fails every waiting
 * promise with the same typed error. The parts themselves (RttEstimator, AckScheduler, SentPackets,
 * ReceivedPackets, CongestionController, FailureDetector, Inbox) are small classes tested alone under
 * a ManualClock; this class wires them to the endpoint (`SessionHost`), which owns the socket.
 */
import { LIMITS } from '../../core/limits.js';
import { AckBodyView, ackBodyBytes, writeAckBody } from '../../wire/control-bodies.js';
import {
  bodyOffset,
  recordHeaderBytes,
  writeHeader,
  writePieceRecordHeader,
  writeRecordHeader,
  writeSackRange,
  type PacketView,
} from '../../wire/packet-codec.js';
import {
  BASE_PACKET_BYTES,
  DATA_OVERHEAD_BYTES,
  Flags,
  HEADER_BYTES,
  PIECE_RECORD_HEADER_BYTES,
  PIECE_UNIT_BYTES,
  PacketType,
  RECORD_HEADER_BYTES,
  SACK_RANGE_BYTES,
} from '../../wire/packet-layout.js';
import { AckScheduler } from '../ack-scheduler.js';
import type { TransportConfig } from '../config.js';
import { CongestionController, Pacer } from '../congestion.js';
import { FailureDetector } from '../failure-detector.js';
import { Inbox, type CompleteMessage } from '../inbox.js';
import { FRAG_ACKED, FRAG_IN_FLIGHT, FRAG_LOST, FRAG_UNSENT, OutgoingMessage } from '../outgoing-message.js';
import { PathMtuProber } from '../path-mtu.js';
import { ReceivedPackets } from '../received-packets.js';
import { RttEstimator } from '../rtt-estimator.js';
import { SentPackets, type SentPacketSink } from '../sent-packets.js';
import { SessionCore, type ArrivedMessage, type CoreHost } from '../session-core.js';
import type { PeerAddress, PeerStats } from '../types.js';
import type { UdpLink } from './link.js';

/** What a session needs from its endpoint. */
export interface SessionHost extends CoreHost<Session> {
  readonly config: TransportConfig;
  /**
   * This session's share of the endpoint socket's receive buffer in packets of `packetBytes`, split
   * between the peers sending to it now (receive-share.ts).
   */
  socketSharePackets(packetBytes: number): number;
  /** Peers sending DATA to the endpoint now (at least 1): acks are spaced by it (ack-scheduler.ts). */
  activeSenders(): number;
  /** The session wants its `pump` called soon (it has something to send). */
  markActive(session: Session): void;
}

/** The pacing bucket holds this many endpoint ticks of the rate (timers run late on a busy machine). */
const PACING_BURST_TICKS = 2;

/** New gaps after which an ack goes at once (half the ranges an ack carries). */
const INLINE_ACK_GAPS = LIMITS.MAX_SACK_RANGES / 2;

/** Packets an expired RTO declares lost (the oldest ones): probes, not a whole window of resends. */
const PROBE_PACKETS = 2;

/**
 * Pieces in the packet log: a fragment index alone is a whole fragment; a piece is stored as
 * -(PIECE_CODE_BASE + fragment * MAX_PIECES + piece), so acks and losses find both again.
 */
const MAX_PIECES = 64;
const PIECE_CODE_BASE = 2;
/** Bytes of a DATA piece packet beyond its payload (no SACK ranges). */
const PIECE_OVERHEAD_BYTES = HEADER_BYTES + PIECE_RECORD_HEADER_BYTES;

export class Session extends SessionCore implements SentPacketSink<OutgoingMessage> {
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
  private probePn = 0;
  /** A fragment being sent as pieces: the message, the fragment, the next piece to look at. */
  private pieceMsg: OutgoingMessage | null = null;
  private pieceFrag = 0;
  private pieceNext = 0;

  // --- handshake (client side; the endpoint keeps the server's half-open state) ---
  handshakeStartedMs = 0;
  handshakeNextSendMs = 0;
  handshakeIntervalMs = 0;
  /** The last handshake packet this side sent (HELLO or CONFIRM as client, ACCEPT as server), for resends. */
  handshakePacket: Buffer | null = null;
  /** Proof a duplicate CONFIRM must carry (server side), to re-send ACCEPT. */
  expectedClientProof: Buffer | null = null;
  private closeNextSendMs = 0;

  // --- reliability ---
  private readonly sent: SentPackets<OutgoingMessage>;
  private readonly received = new ReceivedPackets();
  private readonly acks: AckScheduler;
  readonly rtt: RttEstimator;
  readonly cc: CongestionController;
  private readonly pacer: Pacer;
  private readonly fd: FailureDetector;
  private peerWindowPackets: number;
  private inTimeout = false;

  // --- messages out ---
  private sendCursor = 0;
  private readonly retransmitMsgs: OutgoingMessage[] = [];
  private readonly retransmitFrags: number[] = [];
  private retransmitHead = 0;
  private queuedPackets = 0;
  private undeliveredReceived = 0;
  private deliveryProgressMs = 0;
  private deliveryProbeMs = 0;
  /** The previous delivered report (an ACK's body), whole: a repeat of it is skipped. */
  private lastDeliveredBelow = -1;
  private lastDeliveredCount = 0;
  private readonly lastDeliveredStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  private readonly lastDeliveredLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  // --- messages in ---
  readonly inbox: Inbox;
  private deliveredDirty = false;
  /** Gaps seen since the last ack was sent (inline ack before they outnumber the SACK ranges). */
  private gapsSinceAck = 0;
  /** When the pending delivered report must go (its own deadline: piggybacked packet acks do not carry it). */
  private deliveredDueMs = Infinity;

  // --- scratch (no allocation per packet) ---
  private readonly sackStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  private readonly sackLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);
  private readonly ackBody = new AckBodyView();
  /** Payload slices of the fragment being sent without a copy (refilled per packet). */
  private readonly gatherSlices: Uint8Array[] = [];

  constructor(
    protected override readonly host: SessionHost,
    private readonly link: UdpLink,
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
  private lastRefusedBytes = 0;

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

  private pumpData(nowMs: number, budget: number): number {
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

  // ------------------------------------------------------------------ path MTU and pieces

  /** Takes the prober's packet size (new messages are cut for it; older fragments go as pieces). */
  private applyPacketSize(): void {
    const size = this.pmtu?.currentBytes ?? this.maxPacketBytes;
    if (size === this.packetBytes) return;
    this.packetBytes = size;
    this.chunkBytes = size - DATA_OVERHEAD_BYTES;
  }

  /** Probe work on the session's tick: a lost probe, the next probe to send. */
  private tickPathMtu(nowMs: number): void {
    const p = this.pmtu;
    if (!p) return;
    const size = p.poll(nowMs, this.rtt.rtoMs);
    if (!p.probeInFlight) this.probePn = 0;
    if (size > 0) this.sendProbe(size, nowMs);
  }

  /** A PROBE: the header and zero padding up to `sizeBytes`; ack-eliciting, carries no data. */
  private sendProbe(sizeBytes: number, nowMs: number): void {
    const buf = this.link.acquire();
    if (!buf) return;
    const pn = this.sent.takeUntracked();
    this.probePn = pn;
    writeHeader(
      buf,
      PacketType.PROBE,
      0,
      0,
      sizeBytes - HEADER_BYTES,
      this.remoteHigh,
      this.remoteLow,
      pn,
      this.received.cumulativeAck,
      this.leastUnackedFor(pn),
      this.receiveWindow(),
    );
    buf.fill(0, HEADER_BYTES, sizeBytes); // never last packet's bytes on the wire
    this.pmtu!.onProbeSent(sizeBytes, nowMs);
    this.stats.pmtuProbesSent = (this.stats.pmtuProbesSent ?? 0) + 1;
    this.link.send(this.stats, this.address, buf, sizeBytes, undefined, 0);
  }

  /** The least-unacked field for a packet numbered `pn`: never past a probe still in flight. */
  private leastUnackedFor(pn: number): number {
    const least = Math.min(this.sent.leastUnacked, pn);
    return this.probePn > 0 ? Math.min(least, this.probePn) : least;
  }

  /** Did this packet's ack fields acknowledge the probe in flight? */
  private checkProbeAcked(view: PacketView, nowMs: number): void {
    const pn = this.probePn;
    if (pn === 0 || !this.pmtu) return;
    let acked = pn <= view.cumulativeAck;
    for (let i = 0; i < view.sackCount && !acked; i++)
      acked = pn >= view.sackStart[i]! && pn < view.sackStart[i]! + view.sackLength[i]!;
    if (!acked) return;
    this.probePn = 0;
    this.pmtu.onProbeAcked(nowMs);
    this.applyPacketSize();
  }

  /** Starts (or resumes, after a loss) sending fragment `frag` of `msg` as pieces. */
  private startPieces(msg: OutgoingMessage, frag: number): boolean {
    if (msg.sendCount[frag]! >= this.host.config.maxRetransmits) {
      this.end('dead', 'PEER_DEAD');
      return false;
    }
    if (msg.sendCount[frag]! > 0) this.stats.retransmits++;
    msg.sendCount[frag]!++;
    msg.fragState[frag] = FRAG_IN_FLIGHT;
    msg.pieceStates ??= new Map();
    if (!msg.pieceStates.has(frag))
      msg.pieceStates.set(frag, new Uint8Array(Math.ceil(msg.fragmentLength(frag) / PIECE_UNIT_BYTES)));
    this.pieceMsg = msg;
    this.pieceFrag = frag;
    this.pieceNext = 0;
    return true;
  }

  /** Sends the next piece never sent or lost; false (buffer returned) when none is left. */
  private sendNextPiece(buf: Buffer, nowMs: number): boolean {
    const msg = this.pieceMsg!;
    const frag = this.pieceFrag;
    const states = msg.pieceStates?.get(frag);
    while (states && !msg.retired && msg.fragState[frag] !== FRAG_ACKED && this.pieceNext < states.length) {
      const piece = this.pieceNext++;
      if (states[piece] !== FRAG_UNSENT && states[piece] !== FRAG_LOST) continue;
      states[piece] = FRAG_IN_FLIGHT;
      return this.sendPiece(buf, msg, frag, piece, nowMs);
    }
    this.pieceMsg = null;
    this.link.release(buf);
    return false;
  }

  private sendPiece(buf: Buffer, msg: OutgoingMessage, frag: number, piece: number, nowMs: number): boolean {
    const fragOffset = msg.fragmentOffset(frag);
    const fragLength = msg.fragmentLength(frag);
    const into = piece * PIECE_UNIT_BYTES;
    const payloadBytes = Math.min(PIECE_UNIT_BYTES, fragLength - into);
    const room = Math.floor((this.packetBytes - PIECE_OVERHEAD_BYTES - payloadBytes) / SACK_RANGE_BYTES);
    const sackCount = this.received.highestRanges(
      this.sackStarts,
      this.sackLengths,
      Math.max(0, Math.min(room, LIMITS.MAX_SACK_RANGES)),
    );
    // the payload first: a piece whose bytes are gone must never go (nor take a packet number)
    const dataAt = bodyOffset(sackCount) + PIECE_RECORD_HEADER_BYTES;
    const copied = msg.copyRange(fragOffset + into, payloadBytes, buf, dataAt);
    if (copied < 0) return this.refuseHole(buf);
    this.copiedOutBytes += copied;
    const cumAck = this.received.cumulativeAck;
    const code = -(PIECE_CODE_BASE + frag * MAX_PIECES + piece);
    const pn = this.sent.takeTracked(msg, code, payloadBytes, nowMs);
    writeHeader(
      buf,
      PacketType.DATA,
      0,
      sackCount,
      PIECE_RECORD_HEADER_BYTES + payloadBytes,
      this.remoteHigh,
      this.remoteLow,
      pn,
      cumAck,
      this.leastUnackedFor(pn),
      this.receiveWindow(),
    );
    for (let i = 0; i < sackCount; i++)
      writeSackRange(buf, i, cumAck, this.sackStarts[i]!, this.sackLengths[i]!);
    const at = writePieceRecordHeader(
      buf,
      bodyOffset(sackCount),
      msg.seq,
      msg.fifoSeq,
      payloadBytes,
      msg.sizeBytes,
      fragOffset + into,
      frag,
      msg.fragmentCount,
      fragOffset,
      fragLength,
    );
    this.sent.setLastPacketBytes(at + payloadBytes);
    this.stats.payloadBytesSent += payloadBytes;
    this.pacer.onSent();
    this.fd.onSent(nowMs);
    if (sackCount === this.received.rangeCount && this.acks.pending) this.acks.onAckSent();
    this.link.send(this.stats, this.address, buf, at + payloadBytes, undefined, 0);
    return true;
  }

  /** A piece was acked: the fragment is acked once all its pieces are. */
  private onPieceAcked(msg: OutgoingMessage, code: number): void {
    const frag = Math.floor((-code - PIECE_CODE_BASE) / MAX_PIECES);
    const piece = (-code - PIECE_CODE_BASE) % MAX_PIECES;
    const states = msg.pieceStates?.get(frag);
    if (!states || msg.fragState[frag] === FRAG_ACKED) return;
    states[piece] = FRAG_ACKED;
    for (let i = 0; i < states.length; i++) if (states[i] !== FRAG_ACKED) return;
    msg.pieceStates!.delete(frag);
    if (msg.onFragmentAcked(frag)) this.onMessageReceived(msg);
  }

  /** A piece was lost: it goes again with the fragment's next turn in the repair queue. */
  private onPieceLost(msg: OutgoingMessage, code: number): void {
    const frag = Math.floor((-code - PIECE_CODE_BASE) / MAX_PIECES);
    const piece = (-code - PIECE_CODE_BASE) % MAX_PIECES;
    const states = msg.pieceStates?.get(frag);
    if (!states || msg.fragState[frag] === FRAG_ACKED) return;
    states[piece] = FRAG_LOST;
    if (msg.fragState[frag] === FRAG_LOST) return; // already waiting for its turn
    msg.fragState[frag] = FRAG_LOST;
    this.retransmitMsgs.push(msg);
    this.retransmitFrags.push(frag);
  }

  /** True when a standalone ACK should go now (nothing to piggyback it on went). */
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

  private pickedMsg: OutgoingMessage | null = null;
  private pickedFrag = 0;
  /** The picked fragment is a repair (at the head of the retransmit queue), not new data. */
  private pickedRepair = false;

  /**
   * Finds the next fragment to send without taking it: repairs first, then new data in message
   * order. `takePicked` takes it (a packet takes several small ones while they fit).
   */
  private peekFragment(): boolean {
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
  private takePicked(): void {
    if (this.pickedRepair) {
      this.popRetransmit();
      return;
    }
    const msg = this.pickedMsg!;
    msg.nextUnsent++;
    if (msg.nextUnsent >= msg.fragmentCount) this.sendCursor++;
    if (msg.state === 'queued') msg.state = 'sending';
  }

  private popRetransmit(): void {
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
  private sendData(buf: Buffer, nowMs: number): boolean {
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
    writeHeader(
      buf,
      PacketType.DATA,
      0,
      sackCount,
      at - bodyStart,
      this.remoteHigh,
      this.remoteLow,
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
      this.receiveWindow(),
    );
    for (let i = 0; i < sackCount; i++)
      writeSackRange(buf, i, cumAck, this.sackStarts[i]!, this.sackLengths[i]!);
    this.pacer.onSent();
    this.fd.onSent(nowMs);
    if (sackCount === this.received.rangeCount && this.acks.pending) this.acks.onAckSent();
    if (this.gatherCount === 0) this.link.send(this.stats, this.address, buf, at, undefined, 0);
    else this.link.send(this.stats, this.address, buf, this.gatherAt, this.gatherSlices, this.gatherCount);
    return true;
  }

  /** True when the next fragment is a whole message that fits behind the records so far (peeked). */
  private mayAddRecord(records: number, at: number): boolean {
    if (records >= LIMITS.MAX_RECORDS_PER_PACKET || this.sent.recordRoom() <= 0) return false;
    if (!this.peekFragment()) return false;
    const next = this.pickedMsg!;
    if (next.fragmentCount > 1 || at + RECORD_HEADER_BYTES + next.sizeBytes > this.packetBytes) return false;
    // a message at its retransmission limit starts the next packet, where that ends the session
    return next.sendCount[this.pickedFrag]! < this.host.config.maxRetransmits;
  }

  /** Slices the last record went out as (0: its bytes were copied into the packet buffer), and where. */
  private gatherCount = 0;
  private gatherAt = 0;

  /**
   * Writes fragment `frag` of `msg` as a record at `at` (bytes copied, or left as slices when `gather`);
   * returns where the next record goes, or -1 when the message no longer holds those bytes.
   */
  private writeRecord(buf: Buffer, at: number, msg: OutgoingMessage, frag: number, gather: boolean): number {
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
  private refuseHole(buf: Buffer): false {
    this.link.release(buf);
    this.end('dead', 'INTERNAL');
    return false;
  }

  private releaseUnsent(buf: Buffer): void {
    this.link.release(buf);
  }

  private receiveWindow(): number {
    // Also never more than the socket can buffer while this process is busy: beyond it, a burst is
    // dropped by the kernel (65 KB datagrams overflow a 4 MiB buffer at 64 packets).
    const max = Math.min(this.host.config.maxInFlightPackets, this.host.socketSharePackets(this.packetBytes));
    return this.inbox.windowPackets(this.chunkBytes, max);
  }

  /** Sends a standalone ACK (cumulative, SACK, window, delivered ranges). */
  private sendAck(): boolean {
    const buf = this.link.acquire();
    if (!buf) return false;
    const room = Math.floor(
      (this.packetBytes - HEADER_BYTES - ackBodyBytes(LIMITS.MAX_SACK_RANGES)) / SACK_RANGE_BYTES,
    );
    const sackCount = this.received.highestRanges(
      this.sackStarts,
      this.sackLengths,
      Math.min(room, LIMITS.MAX_SACK_RANGES),
    );
    const cumAck = this.received.cumulativeAck;
    const leastUnacked = this.sent.leastUnacked;
    const pn = this.sent.takeUntracked();
    const below = this.inbox.deliveredBelow;
    const dCount = this.inbox.deliveredRanges(
      this.deliveredStarts,
      this.deliveredLengths,
      LIMITS.MAX_SACK_RANGES,
    );
    writeHeader(
      buf,
      PacketType.ACK,
      0,
      sackCount,
      ackBodyBytes(dCount),
      this.remoteHigh,
      this.remoteLow,
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
      this.receiveWindow(),
    );
    for (let i = 0; i < sackCount; i++)
      writeSackRange(buf, i, cumAck, this.sackStarts[i]!, this.sackLengths[i]!);
    const end = writeAckBody(
      buf,
      bodyOffset(sackCount),
      below,
      this.deliveredStarts,
      this.deliveredLengths,
      dCount,
    );
    this.acks.onAckSent();
    this.gapsSinceAck = 0;
    this.deliveredDirty = false;
    this.deliveredDueMs = Infinity;
    this.link.send(this.stats, this.address, buf, end, undefined, 0);
    return true;
  }

  private readonly deliveredStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  private readonly deliveredLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  /** Sends a HEARTBEAT, or a CLOSE (with `flags`), with piggybacked ack fields. */
  private sendBare(type: number, flags: number, nowMs: number): boolean {
    const buf = this.link.acquire();
    if (!buf) return false;
    const cumAck = this.received.cumulativeAck;
    const leastUnacked = this.sent.leastUnacked;
    const pn = this.sent.takeUntracked();
    writeHeader(
      buf,
      type,
      flags,
      0,
      0,
      this.remoteHigh,
      this.remoteLow,
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
      this.receiveWindow(),
    );
    if (type === PacketType.HEARTBEAT) this.fd.onHeartbeatSent(nowMs);
    else this.fd.onSent(nowMs);
    this.link.send(this.stats, this.address, buf, HEADER_BYTES, undefined, 0);
    return true;
  }

  // ------------------------------------------------------------------ receiving

  /**
   * A packet of this session (DATA, ACK, HEARTBEAT, CLOSE) arrived. Returns false when a DATA record
   * contradicted what the inbox holds for its message (the endpoint counts the packet malformed).
   */
  onPacket(view: PacketView, nowMs: number): boolean {
    this.fd.onHeard(nowMs);
    if (this.state === 'connecting') {
      if (this.role !== 'client' || this.remoteConnectionId === 0n) return true;
      this.setConnected(); // our CONFIRM arrived even though its ACCEPT did not
    }
    this.stats.packetsReceived++;
    this.stats.bytesReceived += view.buf.length;
    this.processAckFields(view, nowMs);
    this.received.advanceTo(view.leastUnacked);
    let wellFormed = true;
    switch (view.type) {
      case PacketType.DATA:
        wellFormed = this.onData(view, nowMs);
        break;
      case PacketType.ACK:
        this.received.record(view.packetNumber);
        if (this.ackBody.decode(view.buf, view.payloadOffset, view.payloadLength, this.oldestSeq()))
          this.onDeliveredReport(nowMs);
        break;
      case PacketType.HEARTBEAT:
      case PacketType.PROBE: // answered at once: the prober waits for it
        this.received.record(view.packetNumber);
        this.acks.onAckEliciting(nowMs, true);
        break;
      case PacketType.CLOSE:
        this.onClose(view, nowMs);
        return true;
    }
    if (!this.ended) this.host.markActive(this);
    return wellFormed;
  }

  /** Takes a DATA packet's records; false when one was malformed (the packet is then left unacked). */
  private onData(view: PacketView, nowMs: number): boolean {
    if (this.state !== 'connected' && this.state !== 'closing') return true;
    this.dataReceivedAtMs = nowMs;
    const gap = view.packetNumber > this.received.largestReceived + 1 && this.received.largestReceived > 0;
    const completedBefore = this.inbox.received;
    // Hand-over waits until the packet is recorded, so a reply sent from the handler acks it.
    this.inbox.hold();
    let refused = false;
    let malformed = false;
    let duplicates = 0;
    const charge = Math.ceil(view.buf.length / view.recordCount);
    for (let i = 0; i < view.recordCount; i++) {
      view.selectRecord(i);
      const result = this.inbox.onRecord(view, charge);
      if (result === 'refused') refused = true;
      else if (result === 'malformed') malformed = refused = true;
      else if (result === 'duplicate') duplicates++;
      else this.stats.payloadBytesReceived += view.dataLength;
    }
    // A refused record (no room yet) leaves the packet unacked: the sender resends its messages, and
    // the ones taken now come again as duplicates.
    if (!refused) {
      this.received.record(view.packetNumber);
      this.stats.duplicates += duplicates;
      this.stats.messagesReceived = this.inbox.received;
      // A completed message is acked at the end of this loop turn: its sender learns `received`
      // (and frees its buffers) now, not an ack delay later.
      const completed = this.inbox.received !== completedBefore;
      const urgent = gap || duplicates > 0 || completed;
      this.acks.onAckEliciting(nowMs, urgent, this.host.activeSenders(), this.receiveWindow());
      // An ack carries the highest MAX_SACK_RANGES ranges only: when a burst opens more new gaps than
      // that before the turn's ack goes, the lower ones would never be reported and the sender would
      // resend them for nothing. Ack inline before that happens.
      if (gap && ++this.gapsSinceAck >= INLINE_ACK_GAPS) this.sendAck();
    }
    this.inbox.resume();
    return !malformed;
  }

  private processAckFields(view: PacketView, nowMs: number): void {
    this.peerWindowPackets = view.receiveWindow;
    const sample = this.sent.onAck(
      view.cumulativeAck,
      view.sackStart,
      view.sackLength,
      view.sackCount,
      nowMs,
    );
    if (sample >= 0) {
      this.rtt.sample(sample);
      this.cc.model.onRttSample(this.rtt.latestRttMs);
    }
    this.checkProbeAcked(view, nowMs);
    const sent = this.sent;
    if (sent.ratePacketsPerMs > 0 || sent.roundEnded) {
      this.cc.model.onSample(
        sent.ratePacketsPerMs,
        sent.rateAppLimited,
        sent.roundEnded,
        sent.inFlight,
        this.rtt.minRttMs,
      );
    }
    if (sent.ackedPackets > 0) {
      this.rtt.resetBackoff();
      this.cc.onAcked(sent.ackedPackets, this.rtt.latestRttMs, this.rtt.minRttMs);
      this.sent.detectLosses(nowMs, this.lossRttMs());
    }
  }

  /** The RTT loss detection measures against (the larger of the latest and the smoothed one). */
  private lossRttMs(): number {
    return Math.max(this.rtt.latestRttMs, this.rtt.smoothedOrInitialMs);
  }

  /** SentPacketSink: a record of an acked packet of `bytes` on the wire (fragment or piece `frag` of `msg`). */
  onPacketAcked(msg: OutgoingMessage, frag: number, bytes: number): void {
    this.pmtu?.onPacketAcked(bytes);
    if (msg.retired) return;
    if (frag < 0) return this.onPieceAcked(msg, frag);
    if (msg.fragState[frag] === FRAG_ACKED) return;
    if (!msg.onFragmentAcked(frag)) return;
    this.onMessageReceived(msg);
  }

  private onMessageReceived(msg: OutgoingMessage): void {
    this.queuedBytes -= msg.sizeBytes;
    this.queuedPackets -= msg.fragmentCount;
    this.undeliveredReceived++;
    if (this.undeliveredReceived === 1) {
      this.deliveryProgressMs = this.lastNowMs;
      this.deliveryProbeMs = 0;
    }
    this.wakeWritable();
  }

  /** The last packet number the loss callbacks were about (a packet's records come one call each). */
  private lastLostPn = -1;

  /**
   * SentPacketSink: a record of lost packet `pn` of `bytes` on the wire (fragment or piece `frag`
   * of `msg`), or a bare packet. The packet counts once; each of its messages becomes eligible for
   * resend (and may be packed anew).
   */
  onPacketLost(msg: OutgoingMessage | null, frag: number, pn: number, bytes: number): void {
    if (pn !== this.lastLostPn) {
      this.lastLostPn = pn;
      if (this.inTimeout) this.stats.timeouts++;
      else this.stats.fastRetransmits++;
      if (!this.inTimeout)
        this.cc.onLoss(pn, this.sent.nextPacketNumber, this.rtt.latestRttMs, this.rtt.minRttMs);
      if (msg !== null) this.pmtu?.onPacketLost(bytes);
    }
    if (msg === null || msg.retired) return;
    if (frag < 0) return this.onPieceLost(msg, frag);
    if (msg.fragState[frag] === FRAG_ACKED) return;
    msg.fragState[frag] = FRAG_LOST;
    this.retransmitMsgs.push(msg);
    this.retransmitFrags.push(frag);
  }

  /** SentPacketSink: a declared loss was reordering after all. */
  onSpuriousLoss(): void {
    this.cc.onSpuriousLoss();
  }

  private onDeliveredReport(nowMs: number): void {
    const a = this.ackBody;
    if (this.repeatsLastReport()) return;
    let progressed = false;
    // Messages sit in sequence order: nothing at or above the report's highest sequence can be in it,
    // so a report costs the messages it may cover, not every message outstanding.
    const last = a.rangeCount - 1;
    const reportedEnd =
      a.rangeCount === 0
        ? a.deliveredBelow
        : Math.max(a.deliveredBelow, a.rangeStart[last]! + a.rangeLength[last]!);
    for (let i = this.outHead; i < this.outgoing.length; i++) {
      const msg = this.outgoing[i]!;
      if (msg.seq >= reportedEnd) break;
      if (msg.retired || !this.isReportedDelivered(msg.seq)) continue;
      if (msg.ackedCount < msg.fragmentCount) this.onMessageReceived(msg); // its last ack was lost
      // Learned after its deadline: it was not delivered within messageTimeoutMs, whatever the scan
      // granularity (the peer has it: nothing left to send, so no copy of the bytes).
      if (msg.pastDeadline(nowMs, this.host.config.messageTimeoutMs)) this.failTimedOut(msg, true);
      msg.markDelivered();
      this.undeliveredReceived--;
      this.host.onMessageFinished(msg);
      progressed = true;
    }
    if (progressed) {
      this.deliveryProgressMs = nowMs;
      this.deliveryProbeMs = 0;
    }
    this.trimOutgoing();
    this.wakeWritable();
  }

  /**
   * True when the ACK's delivered report equals the previous one, range for range (nothing new was
   * delivered); else remembers it. Whole: two different range sets may share their ends and count.
   */
  private repeatsLastReport(): boolean {
    const a = this.ackBody;
    let same = a.deliveredBelow === this.lastDeliveredBelow && a.rangeCount === this.lastDeliveredCount;
    for (let i = 0; same && i < a.rangeCount; i++) {
      same =
        a.rangeStart[i] === this.lastDeliveredStarts[i] && a.rangeLength[i] === this.lastDeliveredLengths[i];
    }
    if (same) return true;
    this.lastDeliveredBelow = a.deliveredBelow;
    this.lastDeliveredCount = a.rangeCount;
    for (let i = 0; i < a.rangeCount; i++) {
      this.lastDeliveredStarts[i] = a.rangeStart[i]!;
      this.lastDeliveredLengths[i] = a.rangeLength[i]!;
    }
    return false;
  }

  private isReportedDelivered(seq: number): boolean {
    const a = this.ackBody;
    if (seq < a.deliveredBelow) return true;
    for (let i = 0; i < a.rangeCount; i++) {
      if (seq >= a.rangeStart[i]! && seq < a.rangeStart[i]! + a.rangeLength[i]!) return true;
    }
    return false;
  }

  private trimOutgoing(): void {
    while (this.outHead < this.outgoing.length && this.outgoing[this.outHead]!.retired) this.outHead++;
    if (this.outHead > 1024 && this.outHead * 2 > this.outgoing.length) {
      this.outgoing.splice(0, this.outHead);
      this.sendCursor = Math.max(0, this.sendCursor - this.outHead);
      this.outHead = 0;
    }
  }

  private onInboxDelivered(): void {
    this.stats.messagesDelivered = this.inbox.delivered;
    if (!this.deliveredDirty) this.deliveredDueMs = this.lastNowMs + this.host.config.ackDelayMs;
    this.deliveredDirty = true;
    if (!this.ended) this.host.markActive(this);
  }

  /** When DATA last arrived (the endpoint splits its socket buffer between the peers sending now). */
  dataReceivedAtMs = -Infinity;

  /** Set by the endpoint before each batch of work, for callbacks that carry no time. */
  lastNowMs = 0;

  /** Back-pressured for a message the size of the last one refused (a size-0 check would spin). */
  protected wouldRefuse(): boolean {
    const size = this.lastRefusedBytes;
    const refused = this.refusal(size) === 'BACK_PRESSURED';
    this.lastRefusedBytes = refused ? size : 0;
    return refused;
  }

  // ------------------------------------------------------------------ timers

  /** Periodic work: handshake and close resends, RTO, delivery probes, heartbeats, death. */
  tick(nowMs: number): void {
    this.lastNowMs = nowMs;
    if (this.state === 'connecting') return this.tickHandshake(nowMs);
    if (this.state === 'closing') return this.tickClosing(nowMs);
    if (this.state !== 'connected') return;
    if (this.fd.isDead(nowMs)) return this.end('dead', 'PEER_DEAD');
    this.checkRetransmitTimeout(nowMs);
    if (this.sent.inFlight > 0) this.sent.detectLosses(nowMs, this.lossRttMs());
    this.sent.pruneLost(nowMs, 2 * this.lossRttMs() + this.host.config.ackDelayMs);
    this.checkMessageTimeouts(nowMs);
    this.checkDeliveryProbe(nowMs);
    if (this.fd.heartbeatDue(nowMs)) this.sendBare(PacketType.HEARTBEAT, 0, nowMs);
    this.tickPathMtu(nowMs);
    if (this.busy) this.host.markActive(this);
  }

  private checkRetransmitTimeout(nowMs: number): void {
    if (this.sent.inFlight === 0) return;
    const rto = this.rtt.rtoMs;
    if (nowMs - this.sent.oldestSentAtMs() < rto) return;
    this.inTimeout = true;
    this.sent.onTimeout(nowMs - rto, PROBE_PACKETS);
    this.inTimeout = false;
    this.rtt.backOff();
    this.cc.onTimeout(this.sent.nextPacketNumber, this.rtt.consecutiveTimeouts);
  }

  /** Received-but-undelivered messages whose report is late: ask for a fresh ACK, backing off. */
  private checkDeliveryProbe(nowMs: number): void {
    if (this.undeliveredReceived === 0) return;
    const c = this.host.config;
    const base = 2 * this.rtt.smoothedOrInitialMs + c.ackDelayMs + c.tickMs;
    const waitMs = Math.min(this.host.config.heartbeatIntervalMs, base * 2 ** this.deliveryProbeMs);
    if (nowMs - this.deliveryProgressMs < waitMs) return;
    if (this.sendBare(PacketType.HEARTBEAT, Flags.ACK_NOW, nowMs)) {
      this.deliveryProgressMs = nowMs;
      this.deliveryProbeMs = Math.min(this.deliveryProbeMs + 1, 16);
    }
  }

  private tickHandshake(nowMs: number): void {
    const c = this.host.config;
    if (nowMs - this.handshakeStartedMs >= c.handshakeTimeoutMs) return this.end('dead', 'HANDSHAKE_TIMEOUT');
    if (nowMs < this.handshakeNextSendMs || !this.handshakePacket) return;
    this.handshakeIntervalMs = Math.min(this.handshakeIntervalMs * 2, 1000);
    this.handshakeNextSendMs = nowMs + this.handshakeIntervalMs;
    this.link.sendControl(this.stats, this.address, this.handshakePacket);
  }

  /** The graceful close began: CLOSE is re-sent until answered or the handshake timeout passes. */
  protected startClosing(nowMs: number): void {
    this.closeNextSendMs = 0;
    this.tickClosing(nowMs);
  }

  /** Tells the peer once, best effort, that the session is over (blacklisting, shutdown). */
  sendCloseNotice(nowMs: number): void {
    if (this.state === 'connected' || this.state === 'closing') this.sendBare(PacketType.CLOSE, 0, nowMs);
  }

  private tickClosing(nowMs: number): void {
    // an unanswered CLOSE is not worth the whole handshake timeout: a few RTOs, at least a second
    const giveUpMs = Math.min(this.host.config.handshakeTimeoutMs, Math.max(1000, 4 * this.rtt.rtoMs));
    if (nowMs - this.closeStartedMs >= giveUpMs) return this.end('closed', 'NOT_CONNECTED');
    if (nowMs < this.closeNextSendMs) return;
    if (this.sendBare(PacketType.CLOSE, 0, nowMs))
      this.closeNextSendMs = nowMs + Math.min(this.rtt.rtoMs, 500);
  }

  private onClose(view: PacketView, nowMs: number): void {
    if ((view.flags & Flags.REPLY) !== 0) {
      if (this.state === 'closing') this.end('closed', 'NOT_CONNECTED');
      return;
    }
    this.sendBare(PacketType.CLOSE, Flags.REPLY, nowMs);
    this.end('closed', 'NOT_CONNECTED');
  }

  // ------------------------------------------------------------------ end

  protected release(): void {
    this.sent.clear();
    this.inbox.clear();
  }

  protected clearSendState(): void {
    this.sendCursor = 0;
    this.retransmitMsgs.length = 0;
    this.retransmitFrags.length = 0;
    this.retransmitHead = 0;
    this.pieceMsg = null;
    this.queuedPackets = 0;
    this.undeliveredReceived = 0;
  }

  /** Stats with the live gauges filled in. */
  override snapshot(): PeerStats {
    const s = this.stats;
    s.rttMs = this.rtt.srttMs;
    s.rttVarMs = this.rtt.rttVarMs;
    s.rtoMs = this.rtt.rtoMs;
    s.cwndPackets = Math.floor(this.cc.windowPackets(this.rtt.minRttMs));
    s.inFlightPackets = this.sent.inFlight;
    s.bytesCopied = this.copiedOutBytes + this.inbox.copiedBytes;
    s.packetBytes = this.packetBytes;
    if (this.pmtu) {
      const p = this.pmtu.counters;
      s.pmtuProbesSent = p.probesSent;
      s.pmtuProbesAcked = p.probesAcked;
      s.pmtuProbesLost = p.probesLost;
      s.pmtuBlackHoles = p.blackHoles;
    }
    return super.snapshot();
  }
}
