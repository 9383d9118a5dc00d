/**
 * The one interface the benchmark drives every transport through (raw dgram, TCP, udx-native,
 * ferry), so the traffic code, the accounting and the figures are the same for all of them and only
 * the transport differs.
 *
 * A link connects this node to the other nodes of a run. Sending is non-blocking with
 * back-pressure (`trySend` says no; `writable` says when to try again), as each transport's own API
 * allows: TCP's `write()` return and 'drain', udx's stream 'drain', ferry's `trySend` status and
 * `writable()`, dgram's send queue. Receiving hands over the 24-byte message header (see message.ts)
 * and the size, never the body, so no transport pays for a copy the benchmark would add.
 */

export type ImplName = 'dgram' | 'tcp' | 'udx' | 'ferry' | 'ferry-tcp';
export const IMPL_NAMES: readonly ImplName[] = ['dgram', 'tcp', 'udx', 'ferry'];
/** Run only when asked for by name (`--impl ferry-tcp`): ferry's message API over its TCP transport. */
export const OPT_IN_IMPL_NAMES: readonly ImplName[] = ['ferry-tcp'];

export interface PeerEndpoint {
  node: number;
  host: string;
  port: number;
  /**
   * This node's traffic reaches us through an impairment proxy, from a port not known in advance
   * (udx under loss): accept the first packet's source as the node's address.
   */
  proxied?: boolean;
}

export interface LinkOptions {
  host: string;
  /** Largest datagram or packet, where the transport lets the benchmark choose it (dgram, ferry). */
  packetSizeBytes: number;
  /** Largest message of the run (ferry's maxMessageBytes is set from it). */
  maxMessageBytes: number;
  /** Impairment settings (ferry's `impair` option), or '' for none. */
  impair: string;
}

/** Retransmission figures, where the transport counts them; null where it does not. */
export interface RetransmitCounters {
  packets: number;
  fast: number | null;
  timeouts: number | null;
  messagesAffected: number | null;
  maxRetriesOfOnePacket: number | null;
}

/** What a link counted; null where its transport cannot tell (TCP has no packet counts). */
export interface LinkCounters {
  packetsSent: number | null;
  packetsReceived: number | null;
  wireBytesSent: number | null;
  wireBytesReceived: number | null;
  retransmits: RetransmitCounters | null;
  /** Transport-specific figures worth keeping (ferry's stats, udx's stream counters). */
  extra: Record<string, number>;
}

/** Called once per received message (per datagram for fragmented raw dgram messages). */
export type ReceiveHandler = (header: Buffer, sizeBytes: number) => void;

export interface Link {
  /** Binds on the host of the options; resolves with the port the other nodes reach this one on. */
  listen(): Promise<number>;
  /** Sets up whatever each transport needs to exchange messages with these nodes. */
  connect(self: number, peers: readonly PeerEndpoint[]): Promise<void>;
  /**
   * Queues one message: `header` (HEADER_BYTES, owned by the link from here on) then `body` (shared,
   * never modified). False when back-pressured: nothing was queued.
   */
  trySend(node: number, header: Buffer, body: Buffer): boolean;
  /** Resolves when `trySend` to this node may succeed again. */
  writable(node: number): Promise<void>;
  /** Pushes out what a batch of `trySend` calls queued (TCP cork); may do nothing. */
  flush(): void;
  onReceive(handler: ReceiveHandler): void;
  counters(): LinkCounters;
  close(): Promise<void>;
}

/** Counters of a transport that knows only bytes (and, for datagrams, packets). */
export function plainCounters(
  packetsSent: number | null,
  packetsReceived: number | null,
  wireBytesSent: number,
  wireBytesReceived: number,
): LinkCounters {
  return { packetsSent, packetsReceived, wireBytesSent, wireBytesReceived, retransmits: null, extra: {} };
}
