/**
 * The messaging API that every transport implements (UDP `Endpoint` now; TCP later) and that the
 * transfer engine programs against. Transport knows nothing of files: a message is bytes.
 *
 * Control calls (create, connect, close) throw FerryError. Data-path calls (`trySend`) return a
 * status instead of throwing for expected conditions (back-pressure, no session).
 */
import type { ErrorCode } from '../core/errors.js';
import type { ImpairmentSource, ImpairmentStats } from './impair/impairment.js';

export type DeliveryMode = 'unordered' | 'fifo';

export interface PeerAddress {
  host: string;
  port: number;
}

/**
 * connecting: handshake under way; connected: session up; closing: graceful close under way;
 * closed: closed by either side; dead: declared dead by failure detection; reset: the peer reset the
 * session (restarted or forgot it); blacklisted: refused by this endpoint.
 */
export type PeerState = 'connecting' | 'connected' | 'closing' | 'closed' | 'dead' | 'reset' | 'blacklisted';

/** A handle on a peer session; stable for the life of the session (a reconnect gives a new one). */
export interface Peer {
  /** `host:port` (IPv6 as `[addr]:port`), unique per endpoint. */
  readonly id: string;
  readonly address: PeerAddress;
  readonly state: PeerState;
}

export interface PeerStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  payloadBytesSent: number;
  payloadBytesReceived: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  duplicates: number;
  rttMs: number;
  rttVarMs: number;
  rtoMs: number;
  cwndPackets: number;
  inFlightPackets: number;
  messagesQueued: number;
  messagesInFlight: number;
  messagesReceived: number;
  messagesDelivered: number;
  messagesFailed: number;
  /**
   * Payload bytes copied in user space by the transport (into packet buffers when sent, into
   * reassembly buffers when received): what a zero-copy path saves, and what shows a regression.
   */
  bytesCopied?: number;
  /** Packet size this side sends now (the path-MTU search moves it; docs/protocol.md). */
  packetBytes?: number;
  /** Path-MTU probes sent, acknowledged and lost, and drops to the base size (a shrunk path). */
  pmtuProbesSent?: number;
  pmtuProbesAcked?: number;
  pmtuProbesLost?: number;
  pmtuBlackHoles?: number;
}

export interface PeerInfo {
  id: string;
  address: PeerAddress;
  state: PeerState;
  /** Pinned peers were connected by this side and are not forgotten when idle. */
  pinned: boolean;
  /** Our and the peer's connection ids (16 hex digits each). */
  localConnectionId: string;
  remoteConnectionId: string;
  remoteIncarnation: number;
  stats: PeerStats;
}

export interface EndpointStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Datagrams dropped before reaching a session, by reason. */
  dropped: {
    malformed: number;
    badChecksum: number;
    /** Sealed packets whose AEAD tag did not hold (forged, damaged, or under other keys). */
    badSeal: number;
    /** Sealed packets whose packet number was opened before or is older than the replay window. */
    replayed: number;
    badVersion: number;
    unknownSession: number;
    unauthenticated: number;
    staleIncarnation: number;
    blacklisted: number;
    overLimit: number;
  };
  peers: number;
  totals: PeerStats;
  /** UDP only: which socket runs (chosen at start-up) and how many datagrams each system call moved. */
  socket?: SocketPathStats;
  /**
   * UDP only, present while impairment runs on the receive path: where it came from (FERRY_IMPAIR or
   * the `impair` option) and its counters.
   */
  impairment?: ImpairmentStats & { source: ImpairmentSource };
  /** The endpoint's receive memory (maxReceiveMemoryBytes) over all sessions. */
  receiveMemory?: ReceiveMemoryStats;
  /** UDP only: the AES-GCM that seals packets (chosen once per process): the addon's or node:crypto's. */
  aead?: 'native' | 'node';
}

/** What received messages hold, over all sessions of an endpoint. */
export interface ReceiveMemoryStats {
  /** Bytes charged now (reassembly buffers, waiting messages, messages in their handlers). */
  usedBytes: number;
  /** The cap (maxReceiveMemoryBytes). */
  capBytes: number;
  peakBytes: number;
  /** Fragments refused because their message would pass the cap (they come again later). */
  refusals: number;
  /** Reassembly buffers the allocator could not give (the message refused, the endpoint serving on). */
  allocationFailures: number;
  /** Free message buffers kept for reuse (`reusePayloads`; at most LIMITS.PAYLOAD_POOL_BYTES). */
  poolFreeBytes: number;
  /** Messages that got a reused buffer instead of a new one. */
  poolReuses: number;
}

/**
 * The UDP socket path: `js` is node:dgram (one system call per datagram), `native` the addon's
 * batched socket (sendmmsg with GSO runs, recvmmsg with GRO).
 */
export interface SocketPathStats {
  kind: 'js' | 'native';
  /** UDP GSO (segmented sends) and GRO (coalesced receives) are on. */
  gso: boolean;
  gro: boolean;
  /** System calls that sent, datagrams sent (GSO segments each), and datagrams per call. */
  sendSyscalls: number;
  sentDatagrams: number;
  datagramsPerSend: number;
  /** System calls that received, datagrams received (GRO segments each), and datagrams per call. */
  receiveSyscalls: number;
  receivedDatagrams: number;
  datagramsPerReceive: number;
  /** Datagrams dropped (as lost) because the send batch was full while the socket buffer was. */
  droppedQueueFull: number;
  /** dgram only: sends the socket refused with an error (each a datagram lost; the protocol resends). */
  sendErrors: number;
}

export type MessageState = 'queued' | 'sending' | 'received' | 'delivered' | 'failed';

export interface MessageInfo {
  messageId: number;
  peerId: string;
  mode: DeliveryMode;
  sizeBytes: number;
  state: MessageState;
  /** Set when state is 'failed'. */
  errorCode?: ErrorCode;
}

/** What `send` and a successful `trySend` return. */
export interface SendHandle {
  /** Unique on this endpoint for its lifetime. */
  readonly messageId: number;
  /** Resolves when every packet of the message reached the peer's endpoint. */
  readonly received: Promise<void>;
  /** Resolves when the peer's message handler finished with it. */
  readonly delivered: Promise<void>;
}

/** Why `trySend` did not take a message. */
export type SendStatus = 'BACK_PRESSURED' | 'NOT_CONNECTED' | 'MESSAGE_TOO_LARGE' | 'CLOSED';

export interface SendOptions {
  /** Default 'unordered'. */
  mode?: DeliveryMode;
}

export interface IncomingMessage {
  peer: Peer;
  messageId: number;
  mode: DeliveryMode;
  /**
   * The message bytes. Valid until the handler's promise settles (the buffer may be reused after):
   * copy what you need to keep.
   */
  payload: Buffer;
}

/**
 * Handles one incoming message. The peer's `delivered` promise resolves when the returned promise
 * settles. FIFO messages of one peer are handed over one at a time, in order.
 */
export type MessageHandler = (msg: IncomingMessage) => void | Promise<void>;

export interface MessageHandlerOptions {
  /** The handler lends payloads back when it settles (see `onMessage`). Default false. */
  reusePayloads?: boolean;
}

export interface PeerStateChange {
  peer: Peer;
  previous: PeerState;
  state: PeerState;
  /** For dead / reset / closed: why. */
  reason?: ErrorCode;
}

export interface MessageEndpoint {
  /** The bound local address. */
  readonly address: PeerAddress;

  /** Opens (or returns the existing) authenticated session with a peer and pins it. */
  connect(address: PeerAddress): Promise<Peer>;
  /** Graceful close of the session; in-flight messages fail with NOT_CONNECTED. */
  disconnect(peer: Peer): Promise<void>;
  /** Refuses all traffic from an address (and closes its session) until `unblacklist`. */
  blacklist(address: PeerAddress): void;
  unblacklist(address: PeerAddress): void;
  /** Peers with a session (default), or every known peer including dead/closed ones kept for stats. */
  peers(opts?: { includeInactive?: boolean }): PeerInfo[];

  /**
   * Sends a message (payload as one buffer or as pieces, sent without concatenating them) to one peer
   * or to several. The payload's bytes go out (and are resent) from where they lie: keep them
   * unchanged until the handle's `received` settles (a message that times out takes its own copy
   * first). Throws FerryError (BACK_PRESSURED, NOT_CONNECTED, MESSAGE_TOO_LARGE, CLOSED) where trySend
   * would return a status.
   */
  send(peer: Peer, payload: Uint8Array | readonly Uint8Array[], opts?: SendOptions): SendHandle;
  sendMany(
    peers: readonly Peer[],
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle[];
  /** Queues a message if the configured limits allow it, else returns why not. Never throws for those. */
  trySend(
    peer: Peer,
    payload: Uint8Array | readonly Uint8Array[],
    opts?: SendOptions,
  ): SendHandle | SendStatus;
  /** Resolves when `trySend` to this peer can take a message again (or rejects if the session ends). */
  writable(peer: Peer): Promise<void>;

  /**
   * Sets the handler for incoming messages (one per endpoint). `reusePayloads: true` is the
   * handler's promise that it keeps no reference to `msg.payload` (nor to a view of it) once its
   * promise settled: the endpoint then reuses the buffer for a later message instead of allocating
   * one per message (UDP; TCP allocates per frame either way).
   */
  onMessage(handler: MessageHandler, opts?: MessageHandlerOptions): void;
  /** Subscribes to peer state changes; returns an unsubscribe function. */
  onPeerState(listener: (change: PeerStateChange) => void): () => void;

  messageState(messageId: number): MessageInfo | undefined;
  messageStates(messageIds: readonly number[]): (MessageInfo | undefined)[];
  messagesOf(peer: Peer): MessageInfo[];

  stats(): EndpointStats;
  /** Human-readable multi-line stats. */
  formatStats(): string;

  /** Gracefully closes every session and the socket. */
  close(): Promise<void>;
}
