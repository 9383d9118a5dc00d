/**
 * Two UDP sessions joined by fake links under a ManualClock: no sockets, no endpoint. Every datagram
 * is sealed and opened as on the wire (seal.ts), can be dropped by a rule, and is handed to the other
 * session's receive path; the harness plays the endpoint's part (ticks, pumps, dispatch).
 */
import type { PacketSealer } from '../../../src/transport/crypto/packet-aead.js';
import { TYPE_OFFSET } from '../../../src/wire/packet-layout.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { ErrorCode } from '../../../src/core/errors.js';
import { PacketView } from '../../../src/wire/packet-codec.js';
import { readTransportConfig, type TransportConfig } from '../../../src/transport/config.js';
import type { DatagramLink } from '../../../src/transport/link.js';
import type { OutgoingMessage } from '../../../src/transport/outgoing-message.js';
import type { ArrivedMessage } from '../../../src/transport/session-core.js';
import { openDatagram, sealDatagram } from '../../../src/transport/seal.js';
import type { PeerAddress, PeerState, PeerStats } from '../../../src/transport/types.js';
import { Session, type SessionHost } from '../../../src/transport/udp/session.js';

/** A datagram as it left a link. */
export interface Datagram {
  bytes: Buffer;
  type: number;
  to: PeerAddress;
}

export class FakeLink implements DatagramLink {
  readonly sent: Datagram[] = [];
  private readonly view = new PacketView();
  constructor(private readonly packetBytes: number) {}

  acquire(): Buffer | null {
    return Buffer.alloc(this.packetBytes);
  }

  release(): void {}

  send(
    stats: PeerStats,
    to: PeerAddress,
    buf: Buffer,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
    sealer: PacketSealer | null = null,
  ): void {
    if (sealer) {
      // sealed: the body is ciphertext, so only the header's type is read back
      const bytes = Buffer.from(buf.subarray(0, sealDatagram(buf, length, slices, sliceCount, sealer)));
      stats.packetsSent++;
      stats.bytesSent += bytes.length;
      this.sent.push({ bytes, type: bytes[TYPE_OFFSET]!, to });
      return;
    }
    sealDatagram(buf, length, slices, sliceCount, null);
    const parts: Uint8Array[] = [buf.subarray(0, length)];
    for (let i = 0; i < sliceCount; i++) parts.push(slices![i]!);
    this.push(stats, to, Buffer.concat(parts));
  }

  sendControl(stats: PeerStats, to: PeerAddress, packet: Buffer): void {
    this.push(stats, to, Buffer.from(packet));
  }

  flush(): void {}

  private push(stats: PeerStats, to: PeerAddress, bytes: Buffer): void {
    stats.packetsSent++;
    stats.bytesSent += bytes.length;
    if (openDatagram(this.view, bytes) !== 'ok')
      throw new Error('the link sent a datagram that does not open');
    this.sent.push({ bytes, type: this.view.type, to });
  }
}

export interface StateChange {
  previous: PeerState;
  state: PeerState;
  reason: ErrorCode | undefined;
}

/** The endpoint's part for one session: config, dispatch to a handler, state events. */
export class FakeHost implements SessionHost {
  handler: ((msg: ArrivedMessage) => void | Promise<void>) | null = null;
  readonly changes: StateChange[] = [];
  readonly finished: OutgoingMessage[] = [];
  constructor(readonly config: TransportConfig) {}
  socketSharePackets(): number {
    return 1 << 20;
  }
  activeSenders(): number {
    return 1;
  }
  markActive(): void {}
  hasHandler(): boolean {
    return this.handler !== null;
  }
  dispatch(session: Session, msg: ArrivedMessage): boolean {
    const result = this.handler!(msg);
    if (!result) return true;
    void result.then(() => {
      if (!session.ended) session.handled(msg);
    });
    return false;
  }
  onStateChange(session: Session, previous: PeerState, reason: ErrorCode | undefined): void {
    this.changes.push({ previous, state: session.state, reason });
  }
  onMessageFinished(msg: OutgoingMessage): void {
    this.finished.push(msg);
  }
}

const A_ID = 0x1111_0000_0000_0001n;
const B_ID = 0x2222_0000_0000_0002n;

/** Two sessions, a (client) and b (server), and the wire between them. */
export class Pair {
  readonly clock = new ManualClock(1000);
  readonly config: TransportConfig;
  readonly hostA: FakeHost;
  readonly hostB: FakeHost;
  readonly linkA: FakeLink;
  readonly linkB: FakeLink;
  readonly a: Session;
  readonly b: Session;
  /** Returns true for a datagram the wire loses (`from` is 'a' or 'b'; `n` counts that side's datagrams). */
  drop: (from: 'a' | 'b', d: Datagram, n: number) => boolean = () => false;
  /** Stops delivering anything (a peer gone silent). */
  cut = false;
  /** Every datagram either side sent, in order (lost ones too). */
  readonly log: { from: 'a' | 'b'; type: number; atMs: number }[] = [];
  private readonly view = new PacketView();
  private readonly counts = { a: 0, b: 0 };

  constructor(config: Partial<TransportConfig> | string = {}) {
    this.config = readTransportConfig(config);
    this.hostA = new FakeHost(this.config);
    this.hostB = new FakeHost(this.config);
    this.linkA = new FakeLink(this.config.packetBytes);
    this.linkB = new FakeLink(this.config.packetBytes);
    const now = this.clock.nowMs();
    const addrA = { host: '127.0.0.1', port: 1001 };
    const addrB = { host: '127.0.0.1', port: 1002 };
    this.a = new Session(this.hostA, this.linkA, '127.0.0.1:1002', addrB, 'client', A_ID, now);
    this.b = new Session(this.hostB, this.linkB, '127.0.0.1:1001', addrA, 'server', B_ID, now);
  }

  /** Both sides learn each other as the handshake would have them (a 2 ms round trip). */
  connect(): void {
    const now = this.clock.nowMs();
    this.b.establish(A_ID, 1, this.config.packetBytes, now, 2);
    this.b.setConnected();
    this.a.establish(B_ID, 2, this.config.packetBytes, now, 2);
    this.a.setConnected();
  }

  /** Sets the application's handler on one side (as the endpoint's onMessage does). */
  onMessage(side: 'a' | 'b', handler: (msg: ArrivedMessage) => void | Promise<void>): void {
    const [host, session] = side === 'a' ? [this.hostA, this.a] : [this.hostB, this.b];
    host.handler = handler;
    if (session.state === 'connected') session.enableDelivery();
  }

  /** Pumps both sides and carries their datagrams until nothing moves; then lets promises settle. */
  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      const now = this.clock.nowMs();
      this.a.lastNowMs = now;
      this.b.lastNowMs = now;
      this.a.pump(now, 128);
      this.b.pump(now, 128);
      const moved = this.carry('a', this.linkA, this.b) + this.carry('b', this.linkB, this.a);
      await new Promise((resolve) => setImmediate(resolve));
      if (moved === 0 && this.linkA.sent.length === 0 && this.linkB.sent.length === 0) return;
    }
    throw new Error('the pair never settled');
  }

  /** Moves time on in steps of the endpoint's tick, ticking and settling both sides each step. */
  async run(ms: number): Promise<void> {
    const step = this.config.tickMs;
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      const now = this.clock.nowMs();
      this.a.tick(now);
      this.b.tick(now);
      await this.settle();
    }
  }

  private carry(from: 'a' | 'b', link: FakeLink, to: Session): number {
    const out = link.sent.splice(0);
    for (const d of out) {
      const n = ++this.counts[from];
      this.log.push({ from, type: d.type, atMs: this.clock.nowMs() });
      if (this.cut || this.drop(from, d, n) || to.ended) continue;
      if (openDatagram(this.view, d.bytes, to.opener) !== 'ok') throw new Error('a datagram did not open');
      to.onPacket(this.view, this.clock.nowMs());
    }
    return out.length;
  }
}
