/**
 * An in-memory MessageEndpoint network for unit tests of the transfer engine.
 *
 * Why: the transfer layer programs only against MessageEndpoint; running it over this fake lets its
 * tests be fast and deterministic, and lets them shuffle unordered deliveries (as a lossy network
 * would) and end sessions at will. The fake honours the contract the engine relies on: `received`
 * then `delivered` promises, FIFO order for 'fifo' messages (handed over one at a time), unordered
 * messages handed over concurrently, `trySend` statuses (BACK_PRESSURED past `maxQueuedMessages`,
 * NOT_CONNECTED, MESSAGE_TOO_LARGE, CLOSED), `writable()`, and peer state changes on both sides.
 */
import { FerryError, type ErrorCode } from '../../src/core/errors.js';
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
  PeerStats,
  SendHandle,
  SendOptions,
  SendStatus,
} from '../../src/transport/types.js';
import { prng } from './seed.js';

export interface FakeNetworkOptions {
  /** Shuffle unordered deliveries with this seed (default: deliver in send order). */
  reorderSeed?: number;
  /** Per-peer cap on messages sent and not yet delivered (default 64). */
  maxQueuedMessages?: number;
  /** Largest message (default 16 MiB). */
  maxMessageBytes?: number;
  /** Secret each endpoint must share to connect (default none). */
  secret?: string;
  /** Called with each message's bytes before delivery; may change them (end-to-end corruption tests). */
  tamper?: (bytes: Buffer) => void;
}

class FakePeer implements Peer {
  state: PeerState = 'connected';
  inFlight = 0;
  fifoTail: Promise<void> = Promise.resolve();
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  readonly stats: PeerStats = emptyStats();
  remote!: FakePeer;
  constructor(
    readonly id: string,
    readonly address: PeerAddress,
    readonly owner: FakeEndpoint,
  ) {}
}

function emptyStats(): PeerStats {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    payloadBytesSent: 0,
    payloadBytesReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    duplicates: 0,
    rttMs: 0.05,
    rttVarMs: 0,
    rtoMs: 200,
    cwndPackets: 0,
    inFlightPackets: 0,
    messagesQueued: 0,
    messagesInFlight: 0,
    messagesReceived: 0,
    messagesDelivered: 0,
    messagesFailed: 0,
  };
}

export class FakeNetwork {
  readonly endpoints = new Map<number, FakeEndpoint>();
  readonly maxQueuedMessages: number;
  readonly maxMessageBytes: number;
  private nextPort = 40000;
  private readonly random: (() => number) | null;
  private readonly pending: Array<() => void> = [];
  private scheduled = false;

  constructor(readonly opts: FakeNetworkOptions = {}) {
    this.maxQueuedMessages = opts.maxQueuedMessages ?? 64;
    this.maxMessageBytes = opts.maxMessageBytes ?? 16 * 1024 * 1024;
    this.random = opts.reorderSeed === undefined ? null : prng(opts.reorderSeed);
  }

  /** A new endpoint on 127.0.0.1 (port chosen unless given). */
  create(opts: { port?: number; secret?: string } = {}): FakeEndpoint {
    const port = opts.port ?? this.nextPort++;
    if (this.endpoints.has(port)) throw new FerryError('BIND_FAILED', `fake port ${port} in use`);
    const ep = new FakeEndpoint(this, { host: '127.0.0.1', port }, opts.secret ?? this.opts.secret ?? '');
    this.endpoints.set(port, ep);
    return ep;
  }

  /** Queues a delivery; with a reorder seed, the queue is drained in a shuffled order. */
  schedule(fn: () => void): void {
    this.pending.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.pending.splice(0);
    if (this.random) {
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [batch[i], batch[j]] = [batch[j]!, batch[i]!];
      }
    }
    for (const fn of batch) fn();
  }
}

export class FakeEndpoint implements MessageEndpoint {
  private handler: MessageHandler = () => undefined;
  private readonly listeners = new Set<(c: PeerStateChange) => void>();
  private readonly peerMap = new Map<string, FakePeer>();
  private nextMessageId = 1;
  private closed = false;
  readonly messages = new Map<number, MessageInfo>();
  /**
   * While true, messages sent to this endpoint are never handed over: their `received` and
   * `delivered` stay pending, as for a peer that stopped taking packets (a stalled receive path).
   */
  stalled = false;
  /** Messages sent, by the first byte of the payload (the transfer message type): for tests. */
  readonly sentByType = new Map<number, number>();

  constructor(
    private readonly net: FakeNetwork,
    readonly address: PeerAddress,
    private readonly secret: string,
  ) {}

  async connect(address: PeerAddress): Promise<Peer> {
    if (this.closed) throw new FerryError('CLOSED');
    const id = `${address.host}:${address.port}`;
    const existing = this.peerMap.get(id);
    if (existing && existing.state === 'connected') return existing;
    const remote = this.net.endpoints.get(address.port);
    if (!remote || remote.closed) throw new FerryError('HANDSHAKE_TIMEOUT', `nothing answers at ${id}`);
    if (remote.secret !== this.secret) throw new FerryError('AUTH_FAILED');
    const mine = new FakePeer(id, address, this);
    const theirs = new FakePeer(`${this.address.host}:${this.address.port}`, this.address, remote);
    mine.remote = theirs;
    theirs.remote = mine;
    this.peerMap.set(id, mine);
    remote.peerMap.set(theirs.id, theirs);
    return mine;
  }

  async disconnect(peer: Peer): Promise<void> {
    const p = this.own(peer);
    if (!p || p.state !== 'connected') return;
    this.endSession(p, 'closed', 'NOT_CONNECTED');
  }

  /** Ends a session on both sides as if the peer crashed (state `reset` on the far side). */
  crash(peer: Peer): void {
    const p = this.own(peer);
    if (p) this.endSession(p, 'dead', 'PEER_DEAD');
  }

  private endSession(p: FakePeer, state: PeerState, reason: ErrorCode): void {
    for (const side of [p, p.remote]) {
      if (side.state !== 'connected') continue;
      const previous = side.state;
      side.state = side === p ? 'closed' : state;
      for (const w of side.waiters.splice(0)) w.reject(new FerryError(reason));
      side.owner.emit({ peer: side, previous, state: side.state, reason });
    }
  }

  private emit(change: PeerStateChange): void {
    for (const l of this.listeners) l(change);
  }

  blacklist(): void {}
  unblacklist(): void {}

  peers(): PeerInfo[] {
    return [...this.peerMap.values()].map((p) => ({
      id: p.id,
      address: p.address,
      state: p.state,
      pinned: true,
      localConnectionId: '0000000000000001',
      remoteConnectionId: '0000000000000002',
      remoteIncarnation: 1,
      stats: { ...p.stats },
    }));
  }

  send(peer: Peer, payload: Uint8Array | readonly Uint8Array[], opts?: SendOptions): SendHandle {
    const r = this.trySend(peer, payload, opts);
    if (typeof r === 'string') throw new FerryError(r);
    return r;
  }

  sendMany(
    peers: readonly Peer[],
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle[] {
    return peers.map((p) => this.send(p, payload, opts));
  }

  trySend(
    peer: Peer,
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle | SendStatus {
    if (this.closed) return 'CLOSED';
    const p = this.own(peer);
    if (!p || p.state !== 'connected') return 'NOT_CONNECTED';
    const pieces = payload instanceof Uint8Array ? [payload] : payload;
    const bytes = Buffer.concat(pieces.map((x) => Buffer.from(x.buffer, x.byteOffset, x.length)));
    if (bytes.length > this.net.maxMessageBytes) return 'MESSAGE_TOO_LARGE';
    this.net.opts.tamper?.(bytes);
    if (p.inFlight >= this.net.maxQueuedMessages) return 'BACK_PRESSURED';
    const mode = opts?.mode ?? 'unordered';
    const messageId = this.nextMessageId++;
    const info: MessageInfo = { messageId, peerId: p.id, mode, sizeBytes: bytes.length, state: 'sending' };
    this.messages.set(messageId, info);
    if (this.messages.size > 10_000) this.messages.delete(this.messages.keys().next().value!);
    this.sentByType.set(bytes[0] ?? 0, (this.sentByType.get(bytes[0] ?? 0) ?? 0) + 1);
    p.inFlight++;
    p.stats.messagesInFlight = p.inFlight;
    p.stats.payloadBytesSent += bytes.length;
    let resolveReceived!: () => void;
    let rejectReceived!: (e: unknown) => void;
    let resolveDelivered!: () => void;
    let rejectDelivered!: (e: unknown) => void;
    const received = new Promise<void>((res, rej) => ((resolveReceived = res), (rejectReceived = rej)));
    const delivered = new Promise<void>((res, rej) => ((resolveDelivered = res), (rejectDelivered = rej)));
    received.catch(() => undefined);
    delivered.catch(() => undefined);
    const fail = (code: ErrorCode): void => {
      info.state = 'failed';
      info.errorCode = code;
      this.release(p);
      rejectReceived(new FerryError(code));
      rejectDelivered(new FerryError(code));
    };
    const hand = async (): Promise<void> => {
      if (p.remote.owner.stalled) return;
      if (p.state !== 'connected' || p.remote.state !== 'connected') return fail('NOT_CONNECTED');
      info.state = 'received';
      resolveReceived();
      const msg: IncomingMessage = { peer: p.remote, messageId, mode, payload: bytes };
      p.remote.stats.payloadBytesReceived += bytes.length;
      try {
        await p.remote.owner.handler(msg);
      } catch {
        // a throwing handler still counts as handled, as with the real endpoint
      }
      info.state = 'delivered';
      this.release(p);
      resolveDelivered();
    };
    if (mode === 'fifo') {
      p.fifoTail = p.fifoTail.then(
        () => new Promise<void>((res) => this.net.schedule(() => void hand().then(res))),
      );
    } else {
      this.net.schedule(() => void hand());
    }
    return { messageId, received, delivered };
  }

  private release(p: FakePeer): void {
    p.inFlight--;
    p.stats.messagesInFlight = p.inFlight;
    if (p.inFlight < this.net.maxQueuedMessages) for (const w of p.waiters.splice(0)) w.resolve();
  }

  writable(peer: Peer): Promise<void> {
    const p = this.own(peer);
    if (!p || p.state !== 'connected') return Promise.reject(new FerryError('NOT_CONNECTED'));
    if (p.inFlight < this.net.maxQueuedMessages) return Promise.resolve();
    return new Promise((resolve, reject) => p.waiters.push({ resolve, reject }));
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onPeerState(listener: (change: PeerStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  messageState(messageId: number): MessageInfo | undefined {
    return this.messages.get(messageId);
  }

  messageStates(ids: readonly number[]): (MessageInfo | undefined)[] {
    return ids.map((id) => this.messages.get(id));
  }

  messagesOf(peer: Peer): MessageInfo[] {
    return [...this.messages.values()].filter((m) => m.peerId === peer.id);
  }

  stats(): EndpointStats {
    const totals = emptyStats();
    for (const p of this.peerMap.values()) {
      totals.payloadBytesSent += p.stats.payloadBytesSent;
      totals.payloadBytesReceived += p.stats.payloadBytesReceived;
    }
    return {
      packetsSent: 0,
      packetsReceived: 0,
      bytesSent: totals.payloadBytesSent,
      bytesReceived: totals.payloadBytesReceived,
      dropped: {
        malformed: 0,
        badChecksum: 0,
        badSeal: 0,
        replayed: 0,
        badVersion: 0,
        unknownSession: 0,
        unauthenticated: 0,
        staleIncarnation: 0,
        blacklisted: 0,
        overLimit: 0,
      },
      peers: this.peerMap.size,
      totals,
    };
  }

  formatStats(): string {
    return JSON.stringify(this.stats());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const p of this.peerMap.values()) this.endSession(p, 'closed', 'NOT_CONNECTED');
    this.closed = true;
    this.net.endpoints.delete(this.address.port);
  }

  private own(peer: Peer): FakePeer | undefined {
    const p = this.peerMap.get(peer.id);
    return p === peer ? p : undefined;
  }
}
