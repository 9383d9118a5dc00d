/**
 * The path-MTU layer of a UDP session: PROBE packets for the prober (path-mtu.ts), and fragments cut
 * for a larger packet size than the path now carries, sent as pieces (each acked and repaired on its
 * own; the fragment is acked once all its pieces are).
 *
 * Why apart from the packer: pieces and probes are the rare path (a path that shrank, a search that
 * runs a few times per session); the packer's common path stays short to read.
 */
import { LIMITS } from '../../core/limits.js';
import { bodyOffset, writePieceRecordHeader, type PacketView } from '../../wire/packet-codec.js';
import {
  HEADER_BYTES,
  PIECE_RECORD_HEADER_BYTES,
  PIECE_UNIT_BYTES,
  PacketType,
  SACK_RANGE_BYTES,
} from '../../wire/packet-layout.js';
import { FRAG_ACKED, FRAG_IN_FLIGHT, FRAG_LOST, FRAG_UNSENT, OutgoingMessage } from '../outgoing-message.js';

import { MAX_PIECES, PacketSender, PIECE_CODE_BASE, PIECE_OVERHEAD_BYTES } from './packer.js';

export abstract class PathPieces extends PacketSender {
  // ------------------------------------------------------------------ path MTU and pieces

  /** Probe work on the session's tick: a lost probe, the next probe to send. */
  protected tickPathMtu(nowMs: number): void {
    const p = this.pmtu;
    if (!p) return;
    const size = p.poll(nowMs, this.rtt.rtoMs);
    if (!p.probeInFlight) this.probePn = 0;
    if (size > 0) this.sendProbe(size, nowMs);
  }

  /** A PROBE: the header and zero padding up to `sizeBytes`; ack-eliciting, carries no data. */
  protected sendProbe(sizeBytes: number, nowMs: number): void {
    const buf = this.link.acquire();
    if (!buf) return;
    const pn = this.sent.takeUntracked();
    this.probePn = pn;
    this.writeSessionHeader(
      buf,
      PacketType.PROBE,
      0,
      0,
      sizeBytes - this.sealBytes - HEADER_BYTES,
      pn,
      this.received.cumulativeAck,
      this.leastUnackedFor(pn),
    );
    buf.fill(0, HEADER_BYTES, sizeBytes - this.sealBytes); // never last packet's bytes on the wire
    this.pmtu!.onProbeSent(sizeBytes, nowMs);
    this.stats.pmtuProbesSent = (this.stats.pmtuProbesSent ?? 0) + 1;
    // sealed, the datagram is sizeBytes again (the tag fills the rest)
    this.link.send(this.stats, this.address, buf, sizeBytes - this.sealBytes, undefined, 0, this.sealer);
  }

  /** Did this packet's ack fields acknowledge the probe in flight? */
  protected checkProbeAcked(view: PacketView, nowMs: number): void {
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
  protected startPieces(msg: OutgoingMessage, frag: number): boolean {
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
  protected sendNextPiece(buf: Buffer, nowMs: number): boolean {
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

  protected sendPiece(
    buf: Buffer,
    msg: OutgoingMessage,
    frag: number,
    piece: number,
    nowMs: number,
  ): boolean {
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
    this.writeSessionHeader(
      buf,
      PacketType.DATA,
      0,
      sackCount,
      PIECE_RECORD_HEADER_BYTES + payloadBytes,
      pn,
      cumAck,
      this.leastUnackedFor(pn),
    );
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
    this.link.send(this.stats, this.address, buf, at + payloadBytes, undefined, 0, this.sealer);
    return true;
  }

  /** A piece was acked: the fragment is acked once all its pieces are. */
  protected onPieceAcked(msg: OutgoingMessage, code: number): void {
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
  protected onPieceLost(msg: OutgoingMessage, code: number): void {
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
}
