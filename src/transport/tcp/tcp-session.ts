/**
 * One session with one peer over one TCP connection: the client half of the handshake, the frames
 * after it (DATA, ACK, DELIVERED, HEARTBEAT, CLOSE), the messages this side sent and their two
 * promises, the inbox of what the peer sent, liveness, and the session's end.
 *
 * Why one object per peer (as in the UDP Session): a session's end (closed, dead, reset) must fail
 * every waiting promise with the same typed error, in one place. TCP does the reliability, so what is
 * left here is bookkeeping: messages are written to the socket as soon as they are queued (header
 * and payload pieces as separate writes inside one cork: scatter-gather, never concatenated),
 * `received` resolves on the peer's cumulative ACK, `delivered` on its DELIVERED ranges.
 */
import type net from 'node:net';
import type { ErrorCode } from '../../core/errors.js';
import { FailureDetector } from '../failure-detector.js';
import type { HandshakeAuth } from '../handshake-auth.js';
import type { FrameOpener, FrameSealer } from '../crypto/frame-aead.js';
import { bytesEqual, SessionKeys, transcriptHash, x25519Shared } from '../crypto/key-schedule.js';
import { SECRET_REFUSED, SERVER_PROOF_FAILED } from '../handshake-messages.js';
import { AEAD_TAG_BYTES } from '../../wire/packet-layout.js';
import { OutgoingMessage } from '../outgoing-message.js';
import { SessionCore, type ArrivedMessage, type CoreHost, type EndState } from '../session-core.js';
import type { DeliveryMode, PeerAddress } from '../types.js';
import {
  decodeChallengeBody,
  decodeConfirmBody,
  decodeCloseBody,
  deliveredBodyBytes,
  encodeCloseBody,
  encodeFrame,
  readDeliveredRanges,
  writeDeliveredRanges,
  writeFrameHeader,
} from './frame-codec.js';
import {
  CloseReason,
  FRAME_HEADER_BYTES,
  FrameFlags,
  FrameType,
  MAX_DELIVERED_RANGES,
} from './frame-layout.js';
import type { FrameFields, FrameReader, FrameReadStatus, FrameSink } from './frame-reader.js';
import type { HeaderSlab } from './header-slab.js';
import type { TcpConfig } from './tcp-config.js';
import { TcpLink, type StreamSink } from './link.js';
import { TcpInbox, type HeldMessage } from './tcp-inbox.js';
import type { ReceiveMemory } from '../receive-memory.js';

/** What a session needs from its endpoint. */
export interface TcpSessionHost extends CoreHost<TcpSession> {
  readonly config: TcpConfig;
  readonly auth: HandshakeAuth;
  /** Whether this endpoint seals its frames (both sides must agree). */
  readonly encrypt: boolean;
  readonly slab: HeaderSlab;
  /** The endpoint's receive memory (maxReceiveMemoryBytes): partial bodies and held messages. */
  readonly receiveMemory: ReceiveMemory;
  /** This session stopped reading because the receive memory is full: call `memoryFreed` on it later. */
  waitForMemory(session: TcpSession): void;
  /** Memory was given back: sessions waiting for it read again if it now has room. */
  memoryReleased(): void;
  /** The session corked its socket: uncork it before the event loop goes on. */
  scheduleUncork(session: TcpSession): void;
  /** The session has reports due in `delayMs`. */
  wakeIn(delayMs: number): void;
  countSent(frames: number, bytes: number): void;
  countReceived(bytes: number): void;
  /** A frame stream error (bad magic, malformed, oversize) or an unexpected frame. */
  countDrop(reason: 'badVersion' | 'malformed' | 'overLimit' | 'unauthenticated' | 'badSeal'): void;
  nowMs(): number;
}

const CLOSE_REASON_CODES: Record<number, ErrorCode> = {
  [CloseReason.NORMAL]: 'NOT_CONNECTED',
  [CloseReason.AUTH_FAILED]: 'AUTH_FAILED',
  [CloseReason.BLACKLISTED]: 'PEER_BLACKLISTED',
  [CloseReason.STALE_INCARNATION]: 'PEER_RESET',
  [CloseReason.OVER_LIMIT]: 'TOO_MANY_PEERS',
  [CloseReason.PROTOCOL_ERROR]: 'MALFORMED',
  [CloseReason.ENCRYPT_REQUIRED]: 'ENCRYPT_MISMATCH',
  [CloseReason.ENCRYPT_OFF]: 'ENCRYPT_MISMATCH',
};

/** What a client is told when the server refused its handshake, by CLOSE reason. */
const REFUSAL_MESSAGES: Record<number, string> = {
  [CloseReason.AUTH_FAILED]: SECRET_REFUSED,
  [CloseReason.ENCRYPT_REQUIRED]:
    'the server requires encryption and this side has it off: drop --no-encrypt on this side',
  [CloseReason.ENCRYPT_OFF]:
    'the server has encryption off (--no-encrypt) and this side has it on: pass --no-encrypt here too, or drop it on the server',
};

export class TcpSession extends SessionCore implements FrameSink, StreamSink {
  readonly startedMs: number;
  /** The connection (null before it is attached and once the session let it go). */
  link: TcpLink | null = null;
  reader: FrameReader | null = null;

  // --- handshake (client side) ---
  /** Client: HELLO's body and X25519 private key, kept until the CHALLENGE (the transcript, the keys). */
  helloBody: Buffer | null = null;
  handshakePrivateKey: Buffer | null = null;
  /** Client: the handshake's keys until ACCEPT proves the server. */
  private handshakeKeys: SessionKeys | null = null;
  /** Seals what this side writes / opens what it reads (null: encryption off, or before the keys). */
  private sealer: FrameSealer | null = null;
  private opener: FrameOpener | null = null;
  /** Writes one piece of a sealed DATA frame (one function for the session, not one per frame). */
  private readonly writeSealedPiece = (b: Buffer): void => {
    this.link!.write(b);
  };
  /** Scratch for a received frame's header, rebuilt as the AEAD's associated data. */
  private readonly headerScratch = Buffer.alloc(FRAME_HEADER_BYTES);
  /** HELLO's nonce, kept to check the server's proof. */
  clientNonce: Buffer | null = null;

  // --- messages out ---
  /** Index in `outgoing` of the first message the peer has not acknowledged. */
  private receivedCursor = 0;
  /** Size of the last message refused for lack of queue bytes (what `writable` waits room for). */
  private refusedBytes = 0;

  // --- messages in ---
  readonly inbox: TcpInbox;
  private ackedSeq = 0;
  private reportDueMs = Infinity;
  private paused = false;
  private readonly fd: FailureDetector;
  private readonly rangeStarts = new Float64Array(MAX_DELIVERED_RANGES);
  private readonly rangeCounts = new Uint32Array(MAX_DELIVERED_RANGES);

  constructor(
    protected override readonly host: TcpSessionHost,
    id: string,
    address: PeerAddress,
    role: 'client' | 'server',
    localConnectionId: bigint,
    nowMs: number,
  ) {
    super(host, id, address, role, localConnectionId);
    const c = host.config;
    this.startedMs = nowMs;
    this.fd = new FailureDetector(c.heartbeatStartMs, c.heartbeatIntervalMs, c.heartbeatTimeoutMs, nowMs);
    this.inbox = new TcpInbox(
      c.maxReassemblyBytes,
      () => this.onReportable(),
      () => this.sendDelivered(),
    );
    this.inbox.memory = host.receiveMemory;
  }

  // ------------------------------------------------------------------ socket

  /** Takes a socket (and its reader) over: from here on its frames and events belong to this session. */
  attach(socket: net.Socket, reader: FrameReader): void {
    this.link = new TcpLink(socket, this);
    this.reader = reader;
    reader.sink = this;
    reader.memory = this.host.receiveMemory;
  }

  /** Lets the socket go without ending the session (a simultaneous connect lost the tie-break). */
  detach(): void {
    const link = this.link;
    this.link = null;
    this.reader = null;
    link?.close(false);
  }

  /** StreamSink: the kernel took what was queued. */
  onDrain(): void {
    this.wakeWritable();
  }

  /** StreamSink: the connection failed or closed. */
  onGone(err: Error | null): void {
    if (this.ended) return;
    if (this.state === 'closing') return this.end('closed', 'NOT_CONNECTED');
    const what = err ? err.message : 'the connection closed';
    if (this.state === 'connecting') {
      return this.end('dead', 'HANDSHAKE_TIMEOUT', `could not connect to ${this.id}: ${what}`);
    }
    this.end('dead', 'PEER_DEAD', `${this.id}: ${what} without a CLOSE (the peer went away)`);
  }

  /** StreamSink: bytes arrived. */
  onChunk(chunk: Buffer): void {
    const now = this.host.nowMs();
    this.fd.onHeard(now);
    this.stats.bytesReceived += chunk.length;
    this.host.countReceived(chunk.length);
    const status = this.reader!.push(chunk);
    if (status !== 'ok' && status !== 'stopped') return this.onStreamError(status);
    if (this.ended) return;
    this.flushReports(false);
    this.updatePause();
  }

  private onStreamError(status: Exclude<FrameReadStatus, 'ok' | 'stopped'>): void {
    this.host.countDrop(
      status === 'badMagic'
        ? 'badVersion'
        : status === 'tooLarge' || status === 'overMemory'
          ? 'overLimit'
          : 'malformed',
    );
    if (status === 'overMemory') {
      this.sendClose(CloseReason.OVER_LIMIT);
      return this.end(
        'closed',
        'MALFORMED',
        `${this.id} sent a frame this endpoint has no receive memory for (maxReceiveMemoryBytes)`,
      );
    }
    this.protocolError(`${this.id} sent a bad frame (${status})`);
  }

  private protocolError(message: string): void {
    this.sendClose(CloseReason.PROTOCOL_ERROR);
    this.end('closed', 'MALFORMED', message);
  }

  /** Stops reading while the application holds too much; the peer's TCP window then fills. */
  private updatePause(): void {
    const link = this.link;
    if (!link) return;
    const over = this.inbox.overLimit;
    if (over && this.host.receiveMemory.full) this.host.waitForMemory(this);
    if (over && !this.paused) {
      this.paused = true;
      link.pause();
    } else if (!over && this.paused) {
      this.paused = false;
      this.fd.onHeard(this.host.nowMs()); // silence while we did not read is ours, not the peer's
      link.resume();
    }
  }

  // ------------------------------------------------------------------ frames in

  onFrame(frame: FrameFields, rawBody: Buffer): boolean {
    this.stats.packetsReceived++;
    let body = rawBody;
    // sealed: every frame once the keys are in use, but the server's handshake refusal (a CLOSE it
    // sends before it could check anything of ours)
    const refusal = this.state === 'connecting' && frame.type === FrameType.CLOSE;
    if (this.opener && !refusal) {
      const header = this.headerScratch;
      writeFrameHeader(header, 0, frame.type, frame.flags, rawBody.length, frame.seq);
      const plain = this.opener.open(header, rawBody);
      if (!plain) {
        this.host.countDrop('badSeal');
        this.protocolError(`${this.id} sent a frame that does not open (forged or damaged)`);
        return false;
      }
      body = plain;
    }
    if (this.state === 'connecting') return this.onHandshakeFrame(frame, body);
    switch (frame.type) {
      case FrameType.DATA:
        return this.onData(frame, body);
      case FrameType.ACK:
        return body.length === 0 ? this.onAck(frame.seq) : this.malformed('ACK');
      case FrameType.DELIVERED:
        return this.onDelivered(frame.seq, body);
      case FrameType.HEARTBEAT:
        return body.length === 0 ? true : this.malformed('HEARTBEAT');
      case FrameType.CLOSE:
        return this.onClose(body);
      default:
        return this.malformed(`frame type ${frame.type} after the handshake`);
    }
  }

  private malformed(what: string): boolean {
    this.host.countDrop('malformed');
    this.protocolError(`${this.id} sent a malformed ${what}`);
    return false;
  }

  private onData(frame: FrameFields, body: Buffer): boolean {
    if (this.state !== 'connected' && this.state !== 'closing') return true;
    if (frame.seq !== this.inbox.lastSeq + 1) return this.malformed(`DATA (sequence ${frame.seq})`);
    this.stats.payloadBytesReceived += body.length;
    const mode: DeliveryMode = (frame.flags & FrameFlags.FIFO) !== 0 ? 'fifo' : 'unordered';
    this.inbox.onMessage(frame.seq, mode, body);
    this.stats.messagesReceived = this.inbox.received;
    this.stats.messagesDelivered = this.inbox.delivered;
    return !this.ended;
  }

  /** Every message up to `seq` reached the peer. */
  private onAck(seq: number): boolean {
    if (seq >= this.nextSeq) return this.malformed(`acknowledgement (sequence ${seq})`);
    let i = this.receivedCursor;
    for (; i < this.outgoing.length; i++) {
      const msg = this.outgoing[i]!;
      if (msg.seq > seq) break;
      this.queuedBytes -= msg.sizeBytes;
      if (!msg.retired) msg.onFragmentAcked(0);
    }
    if (i !== this.receivedCursor) {
      this.receivedCursor = i;
      this.wakeWritable();
    }
    return true;
  }

  private onDelivered(seq: number, body: Buffer): boolean {
    if (!this.onAck(seq)) return false;
    const n = readDeliveredRanges(body, this.rangeStarts, this.rangeCounts);
    if (n < 0) return this.malformed('DELIVERED');
    if (this.outHead >= this.outgoing.length) return true;
    const firstSeq = this.outgoing[this.outHead]!.seq;
    const limitMs = this.host.config.messageTimeoutMs;
    const nowMs = limitMs > 0 ? this.host.nowMs() : 0;
    for (let r = 0; r < n; r++) {
      const start = this.rangeStarts[r]!;
      const end = start + this.rangeCounts[r]!;
      if (end > this.nextSeq) return this.malformed(`DELIVERED (sequence ${end - 1})`);
      // indices as small integers (the window is at most MAX_MESSAGE_WINDOW): keyed loads stay fast
      const from = (this.outHead + Math.max(start - firstSeq, 0)) | 0;
      const to = (this.outHead + (end - firstSeq)) | 0;
      for (let i = from; i < to; i++) {
        const msg = this.outgoing[i]!;
        if (msg.retired) continue;
        // learned after its deadline: not delivered within messageTimeoutMs (the scan is every 50 ms)
        if (msg.pastDeadline(nowMs, limitMs)) this.failTimedOut(msg, true);
        msg.markDelivered();
        this.host.onMessageFinished(msg);
      }
    }
    this.trimOutgoing();
    this.wakeWritable();
    return true;
  }

  private onClose(body: Buffer): boolean {
    const reason = decodeCloseBody(body);
    if (reason < 0) return this.malformed('CLOSE');
    if (this.state === 'closing') {
      this.end('closed', 'NOT_CONNECTED');
      return false;
    }
    const code = CLOSE_REASON_CODES[reason] ?? 'NOT_CONNECTED';
    this.end(
      'closed',
      code,
      reason === CloseReason.NORMAL ? undefined : `${this.id} closed the session: ${code}`,
    );
    return false;
  }

  // ------------------------------------------------------------------ handshake, client side

  /** Sends HELLO on a socket that just connected. */
  sendHello(hello: Buffer): void {
    this.writeControl(hello);
  }

  private onHandshakeFrame(frame: FrameFields, body: Buffer): boolean {
    if (this.role !== 'client') return this.malformed('handshake');
    if (frame.type === FrameType.CLOSE) return this.onHandshakeClose(body);
    if (frame.type === FrameType.CHALLENGE && this.remoteConnectionId === 0n) return this.onChallenge(body);
    if (frame.type === FrameType.ACCEPT && this.remoteConnectionId !== 0n && this.handshakeKeys) {
      const proof = decodeConfirmBody(body);
      if (!proof || !bytesEqual(proof, this.handshakeKeys.serverProof)) {
        this.host.countDrop('unauthenticated');
        this.sendClose(CloseReason.AUTH_FAILED);
        this.end('closed', 'AUTH_FAILED', SERVER_PROOF_FAILED);
        return false;
      }
      this.handshakeKeys = null;
      this.setConnected();
      return true;
    }
    return this.malformed(`handshake frame (type ${frame.type})`);
  }

  private onHandshakeClose(body: Buffer): boolean {
    const reason = decodeCloseBody(body);
    if (reason === CloseReason.DUPLICATE) {
      // The peer dialed us at the same time and its connection wins: this session waits for it.
      this.detach();
      return false;
    }
    const code = reason < 0 ? 'MALFORMED' : (CLOSE_REASON_CODES[reason] ?? 'NOT_CONNECTED');
    this.end('closed', code, REFUSAL_MESSAGES[reason] ?? `${this.id} refused the session: ${code}`);
    return false;
  }

  private onChallenge(body: Buffer): boolean {
    const c = decodeChallengeBody(body);
    if (!c || !this.clientNonce || !this.handshakePrivateKey || !this.helloBody)
      return this.malformed('CHALLENGE');
    const shared =
      c.encrypt === this.host.encrypt ? x25519Shared(this.handshakePrivateKey, c.publicKey) : null;
    if (!shared) {
      this.host.countDrop('unauthenticated');
      this.sendClose(CloseReason.AUTH_FAILED);
      this.end('closed', 'AUTH_FAILED', SERVER_PROOF_FAILED);
      return false;
    }
    const keys = new SessionKeys(shared, this.host.auth.key, transcriptHash(this.helloBody, body));
    this.handshakePrivateKey = null;
    this.helloBody = null;
    this.handshakeKeys = keys;
    this.establish(c.connectionId, c.incarnation);
    this.writeControl(encodeFrame(FrameType.CONFIRM, 0, 0, keys.clientProof));
    // everything after CONFIRM is sealed both ways (the server's ACCEPT first)
    if (this.host.encrypt) this.useKeys(keys);
    return true;
  }

  /** Seals and opens every later frame with the handshake's keys. */
  useKeys(keys: SessionKeys): void {
    this.sealer = keys.frameSealer(this.role);
    this.opener = keys.frameOpener(this.role);
  }

  /** Server: the ACCEPT, with its proof (sealed when the session seals). */
  sendAccept(serverProof: Buffer): void {
    this.writeControl(encodeFrame(FrameType.ACCEPT, 0, 0, serverProof));
  }

  /** This endpoint's incarnation (set by the endpoint before the handshake). */
  localIncarnation = 0;

  establish(remoteConnectionId: bigint, remoteIncarnation: number): void {
    this.remoteConnectionId = remoteConnectionId;
    this.remoteIncarnation = remoteIncarnation;
    const now = this.host.nowMs();
    this.fd.onHeard(now);
    this.fd.onSent(now);
  }

  enableDelivery(): void {
    if (this.ended) return;
    this.inbox.setDispatch((m) => this.host.dispatch(this, m));
    this.updatePause();
  }

  handled(msg: ArrivedMessage): void {
    this.inbox.onHandled(msg as HeldMessage);
    this.host.memoryReleased();
  }

  /** The endpoint's receive memory has room again: read on unless this session's own limits say no. */
  memoryFreed(): void {
    if (!this.ended) this.updatePause();
  }

  // ------------------------------------------------------------------ sending

  /** Why a message of `sizeBytes` cannot be queued now, or null when it can. */
  refusal(sizeBytes: number): 'BACK_PRESSURED' | 'NOT_CONNECTED' | 'MESSAGE_TOO_LARGE' | null {
    const c = this.host.config;
    if (!this.link) return 'NOT_CONNECTED';
    const base = this.baseRefusal(sizeBytes);
    if (base) return base;
    if (this.queuedBytes > 0 && this.queuedBytes + sizeBytes > c.maxQueuedBytes) {
      this.refusedBytes = sizeBytes; // writable() waits until a message this large fits
      return 'BACK_PRESSURED';
    }
    if (this.link.queuedBytes > c.tcpWriteQueueBytes) return 'BACK_PRESSURED';
    return null;
  }

  /** Queues a message and writes it (check `refusal` first). */
  enqueue(
    messageId: number,
    mode: DeliveryMode,
    pieces: readonly Uint8Array[],
    sizeBytes: number,
    nowMs: number,
  ): OutgoingMessage {
    const seq = this.nextSeq++;
    const fifoSeq = mode === 'fifo' ? this.takeFifoSeq() : 0;
    const msg = new OutgoingMessage(
      messageId,
      this.id,
      seq,
      fifoSeq,
      mode,
      pieces,
      sizeBytes,
      Math.max(sizeBytes, 1), // one "fragment": TCP carries the message whole
      nowMs,
    );
    this.outgoing.push(msg);
    this.queuedBytes += sizeBytes;
    this.refusedBytes = 0;
    const header = this.host.slab.take(FRAME_HEADER_BYTES);
    const tagBytes = this.sealer ? AEAD_TAG_BYTES : 0;
    const flags = mode === 'fifo' ? FrameFlags.FIFO : 0;
    writeFrameHeader(header, 0, FrameType.DATA, flags, sizeBytes + tagBytes, seq);
    const link = this.cork();
    if (this.sealer) this.sealer.sealPieces(header, pieces, this.writeSealedPiece);
    else {
      link.write(header);
      for (const piece of pieces) if (piece.length > 0) link.write(piece);
    }
    msg.state = 'sending';
    this.stats.packetsSent++;
    this.stats.bytesSent += FRAME_HEADER_BYTES + sizeBytes + tagBytes;
    this.stats.payloadBytesSent += sizeBytes;
    this.host.countSent(1, FRAME_HEADER_BYTES + sizeBytes + tagBytes);
    this.fd.onSent(nowMs);
    return msg;
  }

  private cork(): TcpLink {
    const link = this.link!;
    if (link.cork()) this.host.scheduleUncork(this);
    return link;
  }

  /** Lets the corked writes go (one writev for the batch). */
  uncork(): void {
    this.link?.uncork();
  }

  protected wouldRefuse(): boolean {
    return this.refusal(this.refusedBytes) === 'BACK_PRESSURED';
  }

  private trimOutgoing(): void {
    while (this.outHead < this.receivedCursor && this.outgoing[this.outHead]!.retired) this.outHead++;
    if (this.outHead > 1024 && this.outHead * 2 > this.outgoing.length) {
      this.outgoing.splice(0, this.outHead);
      this.receivedCursor -= this.outHead;
      this.outHead = 0;
    }
  }

  /** Writes a small control frame from the header slab (ACK, HEARTBEAT) or a prepared one. */
  private writeControl(plain: Buffer): void {
    const link = this.link;
    if (!link || !link.writable) return;
    const frame = this.sealer ? this.sealer.sealFrame(plain, FRAME_HEADER_BYTES) : plain;
    this.stats.packetsSent++;
    this.stats.bytesSent += frame.length;
    this.host.countSent(1, frame.length);
    this.fd.onSent(this.host.nowMs());
    this.cork().write(frame);
  }

  private sendClose(reason: number): void {
    this.writeControl(encodeFrame(FrameType.CLOSE, 0, 0, encodeCloseBody(reason)));
  }

  // ------------------------------------------------------------------ reports (ACK, DELIVERED)

  private onReportable(): void {
    if (this.ended) return;
    this.updatePause();
    const c = this.host.config;
    if (this.inbox.reportMessages >= c.ackEveryPackets || c.ackDelayMs === 0) {
      this.flushReports(true);
      return;
    }
    if (this.reportDueMs === Infinity) {
      this.reportDueMs = this.host.nowMs() + c.ackDelayMs;
      this.host.wakeIn(c.ackDelayMs);
    }
  }

  /**
   * Sends what the peer is owed: a DELIVERED frame for handled messages (it acknowledges receipt
   * too), else an ACK if messages arrived that are still in the application's hands. At the end of
   * every chunk read (`force` false: one report per chunk however many messages it held) and when
   * the delay or count of reports for late handlers is reached.
   */
  private flushReports(force: boolean): void {
    if (this.state !== 'connected' && this.state !== 'closing') return;
    if (
      !force &&
      this.reportDueMs !== Infinity &&
      this.inbox.reportMessages < this.host.config.ackEveryPackets
    ) {
      // late-handler reports are waiting for their delay: only an ACK for new arrivals goes now
      if (this.inbox.lastSeq > this.ackedSeq) this.sendAck();
      return;
    }
    if (this.inbox.reportCount > 0) this.sendDelivered();
    else if (this.inbox.lastSeq > this.ackedSeq) this.sendAck();
  }

  private sendAck(): void {
    const frame = this.host.slab.take(FRAME_HEADER_BYTES);
    writeFrameHeader(frame, 0, FrameType.ACK, 0, 0, this.inbox.lastSeq);
    this.ackedSeq = this.inbox.lastSeq;
    this.writeControl(frame);
  }

  private sendDelivered(): void {
    const n = this.inbox.reportCount;
    if (n === 0) return;
    const bodyBytes = deliveredBodyBytes(n);
    const frame = this.host.slab.take(FRAME_HEADER_BYTES + bodyBytes);
    writeFrameHeader(frame, 0, FrameType.DELIVERED, 0, bodyBytes, this.inbox.lastSeq);
    writeDeliveredRanges(frame, FRAME_HEADER_BYTES, this.inbox.reportStarts, this.inbox.reportCounts, n);
    this.ackedSeq = this.inbox.lastSeq;
    this.inbox.takeReports();
    this.reportDueMs = Infinity;
    this.stats.messagesDelivered = this.inbox.delivered;
    this.writeControl(frame);
  }

  // ------------------------------------------------------------------ timers

  /** Periodic work: handshake timeout, close give-up, death, heartbeats, late reports, message timeouts. */
  tick(nowMs: number): void {
    const c = this.host.config;
    if (this.state === 'connecting') {
      if (nowMs - this.startedMs >= c.handshakeTimeoutMs) {
        this.end(
          'dead',
          'HANDSHAKE_TIMEOUT',
          `${this.id} did not complete the handshake within ${c.handshakeTimeoutMs} ms`,
        );
      }
      return;
    }
    if (this.state === 'closing') {
      if (nowMs - this.closeStartedMs >= Math.min(c.handshakeTimeoutMs, 1000))
        this.end('closed', 'NOT_CONNECTED');
      return;
    }
    if (this.state !== 'connected') return;
    if (this.paused) this.fd.onHeard(nowMs);
    if (this.fd.isDead(nowMs)) {
      return this.end('dead', 'PEER_DEAD', `${this.id} was silent for ${c.heartbeatTimeoutMs} ms`);
    }
    if (nowMs >= this.reportDueMs) this.flushReports(true);
    this.checkMessageTimeouts(nowMs);
    if (this.fd.heartbeatDue(nowMs)) {
      const frame = this.host.slab.take(FRAME_HEADER_BYTES);
      writeFrameHeader(frame, 0, FrameType.HEARTBEAT, 0, 0, 0);
      this.writeControl(frame);
      this.fd.onHeartbeatSent(nowMs);
    }
  }

  // ------------------------------------------------------------------ end

  /** Graceful close (beginClose failed what was in flight): CLOSE goes out, the socket ends. */
  protected startClosing(): void {
    this.sendClose(CloseReason.NORMAL);
    this.uncork();
    this.link?.end();
  }

  /** Tells the peer why, best effort, then ends the session (blacklisting). */
  closeWith(reason: number, state: 'blacklisted' | 'closed', code: ErrorCode): void {
    if (this.state === 'connected' || this.state === 'closing') this.sendClose(reason);
    this.end(state, code);
  }

  /** The session ends: the inbox is let go, the socket goes (after a CLOSE we wrote, when closing). */
  protected release(state: EndState): void {
    this.inbox.clear();
    this.reader?.dispose();
    this.host.memoryReleased();
    const link = this.link;
    this.link = null;
    this.reader = null;
    link?.close(state === 'closed' || state === 'blacklisted');
  }

  protected clearSendState(): void {
    this.receivedCursor = 0;
  }
}
