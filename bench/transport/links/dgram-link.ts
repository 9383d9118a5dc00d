/**
 * The raw baseline: Node's `dgram`, one datagram per message, no reliability at all. It is the
 * ceiling of what a JavaScript process can push through a UDP socket, so ferry's per-packet cost is
 * read against it. A message larger than the packet size is cut into datagrams that each carry the
 * message header with their fragment number; what arrives is counted, nothing is repaired.
 *
 * One receive socket per node, plus one connected send socket per peer: a connected socket skips
 * the per-send address lookup, which is the fastest a Node sender can be.
 */
import dgram from 'node:dgram';
import { HEADER_BYTES, setFragment } from '../message.js';
import {
  plainCounters,
  type Link,
  type LinkCounters,
  type LinkOptions,
  type PeerEndpoint,
  type ReceiveHandler,
} from './link.js';

/** Socket buffers: the largest this kernel grants without privileges (net.core.rmem_max = 4 MiB). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Send requests waiting in libuv beyond which the sender is back-pressured. */
const MAX_QUEUED_SENDS = 256;

export class DgramLink implements Link {
  private rx: dgram.Socket | null = null;
  private readonly tx: (dgram.Socket | undefined)[] = [];
  private handler: ReceiveHandler = () => {};
  private packetsSent = 0;
  private packetsReceived = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private sendErrors = 0;

  constructor(private readonly opts: LinkOptions) {}

  async listen(): Promise<number> {
    const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES });
    this.rx = rx;
    rx.on('message', (msg) => {
      this.packetsReceived++;
      this.bytesReceived += msg.length;
      if (msg.length >= HEADER_BYTES) this.handler(msg, msg.length);
    });
    await new Promise<void>((resolve, reject) => {
      rx.once('error', reject);
      rx.bind(0, this.opts.host, () => resolve());
    });
    return rx.address().port;
  }

  async connect(_self: number, peers: readonly PeerEndpoint[]): Promise<void> {
    for (const p of peers) {
      const s = dgram.createSocket({ type: 'udp4', sendBufferSize: SOCKET_BUFFER_BYTES });
      // A peer that already left answers with ICMP unreachable: count it, do not crash.
      s.on('error', () => this.sendErrors++);
      await new Promise<void>((resolve) => s.connect(p.port, p.host, resolve));
      this.tx[p.node] = s;
    }
  }

  trySend(node: number, header: Buffer, body: Buffer): boolean {
    const s = this.tx[node];
    if (!s || s.getSendQueueCount() >= MAX_QUEUED_SENDS) return false;
    const sizeBytes = HEADER_BYTES + body.length;
    const packet = this.opts.packetSizeBytes;
    if (sizeBytes <= packet) {
      s.send([header, body]);
      this.count(sizeBytes);
      return true;
    }
    const frags = Math.ceil(sizeBytes / packet);
    for (let i = 0; i < frags; i++) {
      const h = i === 0 ? header : Buffer.from(header);
      setFragment(h, i, frags);
      // Fragment i holds message bytes [i * packet, ...): its own header plus filler up to that length.
      const fragBytes = Math.max(HEADER_BYTES, Math.min(packet, sizeBytes - i * packet));
      s.send([h, body.subarray(0, fragBytes - HEADER_BYTES)]);
      this.count(fragBytes);
    }
    return true;
  }

  private count(bytes: number): void {
    this.packetsSent++;
    this.bytesSent += bytes;
  }

  writable(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  flush(): void {}

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  counters(): LinkCounters {
    const c = plainCounters(this.packetsSent, this.packetsReceived, this.bytesSent, this.bytesReceived);
    c.extra.sendErrors = this.sendErrors;
    return c;
  }

  async close(): Promise<void> {
    for (const s of this.tx) s?.close();
    this.tx.length = 0;
    const rx = this.rx;
    this.rx = null;
    if (rx) await new Promise<void>((resolve) => rx.close(() => resolve()));
  }
}
