/**
 * One UDP session with one peer: the handshake state it was born from, the reliability machinery
 * (packet log, acks, RTO, congestion, pacing), the send queue of messages, the inbox, liveness, and
 * the session's end. Three layers of one object: the packer (packer.ts), path-MTU pieces and probes
 * (pieces.ts), and here the receive path, standalone ACK/HEARTBEAT/CLOSE packets, the timers and the
 * close; what every transport's session shares is session-core.ts.
 *
 * Why one object per peer: every packet of a session touches several of these parts, and keeping
 * them together makes the session's end (dead, reset, closed) one place that fails every waiting
 * promise with the same typed error. The parts themselves (RttEstimator, AckScheduler, SentPackets,
 * ReceivedPackets, CongestionController, FailureDetector, Inbox) are small classes tested alone under
 * a ManualClock; this class wires them to the endpoint (`SessionHost`) and sends through a link
 * (`DatagramLink`); test/unit/transport/session.test.ts drives two of them over fake links.
 */
import { LIMITS } from '../../core/limits.js';
import { ackBodyBytes, writeAckBody } from '../../wire/control-bodies.js';
import { bodyOffset, type PacketView } from '../../wire/packet-codec.js';
import { Flags, HEADER_BYTES, PacketType, SACK_RANGE_BYTES } from '../../wire/packet-layout.js';
import { FRAG_ACKED, FRAG_LOST, OutgoingMessage } from '../outgoing-message.js';
import type { PeerStats } from '../types.js';

import { INLINE_ACK_GAPS, PROBE_PACKETS } from './packer.js';
import { PathPieces } from './pieces.js';

export type { SessionHost } from './packer.js';

/**
 * A HEARTBEAT is padded to the largest ACK that answers it (every SACK range and delivered range),
 * so the answer is never larger than the datagram that asked for it.
 */
export const HEARTBEAT_PADDING_BYTES =
  LIMITS.MAX_SACK_RANGES * SACK_RANGE_BYTES + ackBodyBytes(LIMITS.MAX_SACK_RANGES);

/**
 * A tick that comes more than this many tick periods after the one before means this process did
 * not run meanwhile (starved of CPU, its event loop blocked by a collection): the peer's acks for the
 * packets in flight may be waiting unread in the socket, since timers run before the socket is read.
 * That tick leaves the retransmission timeout and time-based loss detection to the next one, which
 * comes after the endpoint has read its socket (the session is busy while packets are in flight, so
 * the next tick is due one tick period later). (On a loaded 2-core machine, in-process server and
 * client at 32 requests in flight: 17-28 spurious timeouts per side in 5 s, each resending and
 * shrinking the window, and replies stuck for 25-100 ms; with this, 0-4.)
 */
export const STALLED_TICK_PERIODS = 5;

export class Session extends PathPieces {
  /** When tick() last ran (clock ms): a long gap is a stall of this process (STALLED_TICK_PERIODS). */
  private lastTickMs = Number.NaN;
  /** The last tick deferred the loss checks (the next one makes them, whatever its gap). */
  private checksDeferred = false;

  // ------------------------------------------------------------------ receiving

  /**
   * May a packet numbered `pn` be taken (read before it is opened)? Not when it is more than
   * LIMITS.MAX_PACKET_NUMBER_GAP above the cumulative ack: no ACK could report it (its SACK delta is
   * 32 bits), and opened it would slide the replay window past the peer's real packets.
   */
  packetNumberInReach(pn: number): boolean {
    return pn - this.received.cumulativeAck <= LIMITS.MAX_PACKET_NUMBER_GAP;
  }

  /**
   * A packet of this session (DATA, ACK, HEARTBEAT, CLOSE) arrived. Returns false when a DATA record
   * contradicted what the inbox holds for its message (the endpoint counts the packet malformed).
   */
  onPacket(view: PacketView, nowMs: number): boolean {
    this.fd.onHeard(nowMs);
    if (this.state === 'connecting') {
      // Our CONFIRM arrived even though its ACCEPT did not: a packet that opened under the session's
      // keys proves what the ACCEPT would have (unsealed packets prove nothing: wait for the ACCEPT).
      if (this.role !== 'client' || this.remoteConnectionId === 0n || !this.opener) return true;
      this.handshakeKeys = null;
      this.setConnected();
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
  protected onData(view: PacketView, nowMs: number): boolean {
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

  protected processAckFields(view: PacketView, nowMs: number): void {
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
  protected lossRttMs(): number {
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

  protected onMessageReceived(msg: OutgoingMessage): void {
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
  protected lastLostPn = -1;

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

  protected onDeliveredReport(nowMs: number): void {
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
  protected repeatsLastReport(): boolean {
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

  protected isReportedDelivered(seq: number): boolean {
    const a = this.ackBody;
    if (seq < a.deliveredBelow) return true;
    for (let i = 0; i < a.rangeCount; i++) {
      if (seq >= a.rangeStart[i]! && seq < a.rangeStart[i]! + a.rangeLength[i]!) return true;
    }
    return false;
  }

  protected trimOutgoing(): void {
    while (this.outHead < this.outgoing.length && this.outgoing[this.outHead]!.retired) this.outHead++;
    if (this.outHead > 1024 && this.outHead * 2 > this.outgoing.length) {
      this.outgoing.splice(0, this.outHead);
      this.sendCursor = Math.max(0, this.sendCursor - this.outHead);
      this.outHead = 0;
    }
  }

  protected onInboxDelivered(): void {
    this.stats.messagesDelivered = this.inbox.delivered;
    if (!this.deliveredDirty) this.deliveredDueMs = this.lastNowMs + this.host.config.ackDelayMs;
    this.deliveredDirty = true;
    if (!this.ended) this.host.markActive(this);
  }

  /** Back-pressured for a message the size of the last one refused (a size-0 check would spin). */
  protected wouldRefuse(): boolean {
    const size = this.lastRefusedBytes;
    const refused = this.refusal(size) === 'BACK_PRESSURED';
    this.lastRefusedBytes = refused ? size : 0;
    return refused;
  }

  // ------------------------------------------------------------------ control packets

  /** Sends a standalone ACK (cumulative, SACK, window, delivered ranges). */
  protected sendAck(): boolean {
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
    this.writeSessionHeader(
      buf,
      PacketType.ACK,
      0,
      sackCount,
      ackBodyBytes(dCount),
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
    );
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
    this.link.send(this.stats, this.address, buf, end, undefined, 0, this.sealer);
    return true;
  }

  protected readonly deliveredStarts = new Float64Array(LIMITS.MAX_SACK_RANGES);
  protected readonly deliveredLengths = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  /** Sends a HEARTBEAT, or a CLOSE (with `flags`), with piggybacked ack fields. */
  protected sendBare(type: number, flags: number, nowMs: number): boolean {
    const buf = this.link.acquire();
    if (!buf) return false;
    const cumAck = this.received.cumulativeAck;
    const leastUnacked = this.sent.leastUnacked;
    const pn = this.sent.takeUntracked();
    const padding = type === PacketType.HEARTBEAT ? HEARTBEAT_PADDING_BYTES : 0;
    this.writeSessionHeader(
      buf,
      type,
      flags,
      0,
      padding,
      pn,
      cumAck,
      Math.min(this.leastUnackedFor(pn), leastUnacked),
    );
    buf.fill(0, HEADER_BYTES, HEADER_BYTES + padding);
    if (type === PacketType.HEARTBEAT) this.fd.onHeartbeatSent(nowMs);
    else this.fd.onSent(nowMs);
    this.link.send(this.stats, this.address, buf, HEADER_BYTES + padding, undefined, 0, this.sealer);
    return true;
  }

  // ------------------------------------------------------------------ timers

  /** Periodic work: handshake and close resends, RTO, delivery probes, heartbeats, death. */
  tick(nowMs: number): void {
    this.lastNowMs = nowMs;
    if (this.state === 'connecting') return this.tickHandshake(nowMs);
    if (this.state === 'closing') return this.tickClosing(nowMs);
    if (this.state !== 'connected') return;
    if (this.fd.isDead(nowMs)) return this.end('dead', 'PEER_DEAD');
    // a stall defers the checks by one tick, never two in a row (a process late on every tick
    // still repairs real losses, every other tick)
    const stalled =
      nowMs - this.lastTickMs > STALLED_TICK_PERIODS * this.host.config.tickMs && !this.checksDeferred;
    this.lastTickMs = nowMs;
    this.checksDeferred = stalled;
    if (!stalled) {
      this.checkRetransmitTimeout(nowMs);
      if (this.sent.inFlight > 0) this.sent.detectLosses(nowMs, this.lossRttMs());
    }
    this.sent.pruneLost(nowMs, 2 * this.lossRttMs() + this.host.config.ackDelayMs);
    this.checkMessageTimeouts(nowMs);
    this.checkDeliveryProbe(nowMs);
    if (this.fd.heartbeatDue(nowMs)) this.sendBare(PacketType.HEARTBEAT, 0, nowMs);
    this.tickPathMtu(nowMs);
    if (this.busy) this.host.markActive(this);
  }

  protected checkRetransmitTimeout(nowMs: number): void {
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
  protected checkDeliveryProbe(nowMs: number): void {
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

  protected tickHandshake(nowMs: number): void {
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

  protected tickClosing(nowMs: number): void {
    // an unanswered CLOSE is not worth the whole handshake timeout: a few RTOs, at least a second
    const giveUpMs = Math.min(this.host.config.handshakeTimeoutMs, Math.max(1000, 4 * this.rtt.rtoMs));
    if (nowMs - this.closeStartedMs >= giveUpMs) return this.end('closed', 'NOT_CONNECTED');
    if (nowMs < this.closeNextSendMs) return;
    if (this.sendBare(PacketType.CLOSE, 0, nowMs))
      this.closeNextSendMs = nowMs + Math.min(this.rtt.rtoMs, 500);
  }

  protected onClose(view: PacketView, nowMs: number): void {
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
    s.packetBytes = this.packetBytes + this.sealBytes; // the datagram's size, tag included
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
