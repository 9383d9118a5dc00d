/**
 * ferry's own transport, through the public API only: one Endpoint per node, one session per pair
 * of nodes (the lower-numbered node connects, the other picks the session up when it appears),
 * messages sent unordered as two pieces (header, shared body) without concatenation, back-pressure
 * from `trySend`'s status and `writable()`. Packet size is the endpoint's `packetBytes` setting;
 * the loss matrix switches on the receive-path impairment with the `impair` option. Counters come
 * from `stats()` (and the impairment's own, to show what the network dropped). The same link runs
 * ferry's TCP transport (`ferry-tcp`: the same message API over one TCP connection per pair).
 */
import {
  createEndpoint,
  Endpoint,
  type MessageEndpoint,
  type Peer,
  type PeerStateChange,
  type TransportKind,
} from '../../../src/index.js';
import type { Link, LinkCounters, LinkOptions, PeerEndpoint, ReceiveHandler } from './link.js';

/**
 * The sender's queue per peer (`maxQueuedBytes`: queued or in flight, not yet received). The
 * transport's default (256 MiB) lets a bulk sender queue seconds of data, so one-way delivery times
 * measured the queue (p50 3.3 s at 1 MiB messages). 8 MiB made them measure the path (p50 21 ms) but
 * starved the loss runs: at 10 ms delay a message with a lost fragment stays "not received" for two
 * or three more round trips, and 1 % loss fell to 0.86-0.94 of lossless. 32 MiB holds those repairs
 * (0.97-1.02) and still keeps delivery times to a fraction of a second.
 */
const BENCH_QUEUED_BYTES = 32 * 1024 * 1024;

/** Longest wait for a lower-numbered node's session to appear (it connects after the same phase). */
const SESSION_WAIT_MS = 20_000;

export class FerryLink implements Link {
  private ep: MessageEndpoint | null = null;
  private readonly peers: (Peer | undefined)[] = [];
  private handler: ReceiveHandler = () => {};
  private refused = 0;

  constructor(
    private readonly opts: LinkOptions,
    private readonly transport: TransportKind = 'udp',
  ) {}

  async listen(): Promise<number> {
    const ep = await createEndpoint({
      transport: this.transport,
      host: this.opts.host,
      port: 0,
      config: {
        packetBytes: this.opts.packetSizeBytes,
        maxMessageBytes: Math.max(this.opts.maxMessageBytes, 1),
        maxQueuedBytes: Math.max(BENCH_QUEUED_BYTES, this.opts.maxMessageBytes),
      },
      // Explicit: a FERRY_IMPAIR left in the environment must not impair a run that did not ask.
      impair: this.opts.impair === '' ? null : this.opts.impair,
    });
    this.ep = ep;
    ep.onMessage((msg) => this.handler(msg.payload, msg.payload.length));
    return ep.address.port;
  }

  async connect(self: number, peers: readonly PeerEndpoint[]): Promise<void> {
    const ep = this.endpoint();
    await Promise.all(
      peers.map(async (p) => {
        const address = { host: p.host, port: p.port };
        if (p.node < self) await this.sessionFrom(p);
        this.peers[p.node] = await ep.connect(address);
      }),
    );
  }

  /** Resolves when the node that dials us has its session up (bounded by SESSION_WAIT_MS). */
  private sessionFrom(p: PeerEndpoint): Promise<void> {
    const ep = this.endpoint();
    const up = (): boolean => ep.peers().some((i) => i.address.port === p.port && i.state === 'connected');
    if (up()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`ferry: node ${p.node} did not connect within ${SESSION_WAIT_MS} ms`));
      }, SESSION_WAIT_MS);
      const off = ep.onPeerState((c: PeerStateChange) => {
        if (c.peer.address.port !== p.port || c.state !== 'connected') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  trySend(node: number, header: Buffer, body: Buffer): boolean {
    const peer = this.peers[node];
    if (!peer) return false;
    // A new array per message: the endpoint may keep the pieces until the message is received.
    const r = this.endpoint().trySend(peer, body.length > 0 ? [header, body] : header);
    if (typeof r !== 'string') return true;
    if (r !== 'BACK_PRESSURED') this.refused++;
    return false;
  }

  async writable(node: number): Promise<void> {
    const peer = this.peers[node];
    if (!peer) return;
    // A session that ended rejects; the sender's own deadline ends the run.
    await this.endpoint()
      .writable(peer)
      .catch(() => {});
  }

  flush(): void {}

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  counters(): LinkCounters {
    const ep = this.endpoint();
    const s = ep.stats();
    const t = s.totals;
    const imp = ep instanceof Endpoint ? ep.impairmentStats() : null;
    const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
    return {
      packetsSent: s.packetsSent,
      packetsReceived: s.packetsReceived,
      wireBytesSent: s.bytesSent,
      wireBytesReceived: s.bytesReceived,
      retransmits: {
        packets: t.retransmits,
        fast: t.fastRetransmits,
        timeouts: t.timeouts,
        messagesAffected: null,
        maxRetriesOfOnePacket: null,
      },
      extra: {
        duplicates: t.duplicates,
        droppedBeforeSession: dropped,
        messagesFailed: t.messagesFailed,
        sendRefused: this.refused,
        rttMs: t.rttMs,
        cwndPackets: t.cwndPackets,
        impairDroppedLoss: imp?.droppedLoss ?? 0,
        impairDatagramsIn: imp?.datagramsIn ?? 0,
      },
    };
  }

  async close(): Promise<void> {
    const ep = this.ep;
    this.ep = null;
    if (ep) await ep.close();
  }

  private endpoint(): MessageEndpoint {
    if (!this.ep) throw new Error('ferry: the endpoint is not open (listen first)');
    return this.ep;
  }
}
