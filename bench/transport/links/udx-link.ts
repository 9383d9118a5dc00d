/**
 * udx-native streams: the reliable, congestion-controlled UDP transport (C core, BBR) that ferry
 * must beat. One socket per node, one stream per pair of nodes; stream ids follow from the node
 * numbers (node i's stream to node j has id j + 1 and talks to remote id i + 1), so both ends
 * connect without a handshake of the benchmark's own. Messages are length-prefixed frames on the
 * stream, as on TCP; back-pressure is the stream's `write()` return and 'drain'.
 */
import { FrameReader, framePrefix } from '../framing.js';
import { loadUdx, type Udx, type UdxSocket, type UdxStream } from '../udx-native.js';
import type { Link, LinkCounters, LinkOptions, PeerEndpoint, ReceiveHandler } from './link.js';

export class UdxLink implements Link {
  private readonly udx: Udx;
  private socket: UdxSocket | null = null;
  private readonly streams: (UdxStream | undefined)[] = [];
  private readonly needDrain: boolean[] = [];
  private handler: ReceiveHandler = () => {};
  private errors = 0;

  constructor(private readonly opts: LinkOptions) {
    const Ctor = loadUdx();
    if (typeof Ctor === 'string') throw new Error(Ctor);
    this.udx = new Ctor();
  }

  listen(): Promise<number> {
    const socket = this.udx.createSocket();
    socket.bind(0, this.opts.host);
    this.socket = socket;
    return Promise.resolve(socket.address().port);
  }

  connect(self: number, peers: readonly PeerEndpoint[]): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('udx: connect before listen'));
    for (const p of peers) {
      // Through a proxy the node's packets come from the proxy's port: connect to where the first
      // one came from (the stream is not connected before, so udx asks this firewall).
      const stream: UdxStream = p.proxied
        ? this.udx.createStream(p.node + 1, {
            firewall: (sock, port, host) => {
              stream.connect(sock, self + 1, port, host);
              return false;
            },
          })
        : this.udx.createStream(p.node + 1);
      const reader = new FrameReader((h, size) => this.handler(h, size), this.opts.maxMessageBytes);
      stream.on('data', (chunk) => reader.push(chunk));
      stream.on('drain', () => (this.needDrain[p.node] = false));
      // The peer closing first ends the stream with an error: expected at the end of a run.
      stream.on('error', () => this.errors++);
      if (!p.proxied) stream.connect(socket, self + 1, p.port, p.host);
      this.streams[p.node] = stream;
      this.needDrain[p.node] = false;
    }
    return Promise.resolve();
  }

  trySend(node: number, header: Buffer, body: Buffer): boolean {
    const stream = this.streams[node];
    if (!stream || this.needDrain[node]) return false;
    let ok = stream.write(framePrefix(header, body.length));
    if (body.length > 0) ok = stream.write(body);
    if (!ok) this.needDrain[node] = true;
    return true;
  }

  writable(node: number): Promise<void> {
    const stream = this.streams[node];
    if (!stream || !this.needDrain[node]) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  flush(): void {}

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  counters(): LinkCounters {
    const c: LinkCounters = {
      packetsSent: 0,
      packetsReceived: 0,
      wireBytesSent: 0,
      wireBytesReceived: 0,
      retransmits: { packets: 0, fast: 0, timeouts: 0, messagesAffected: null, maxRetriesOfOnePacket: null },
      extra: { streamErrors: this.errors, mtuBytes: 0 },
    };
    for (const s of this.streams) {
      if (!s) continue;
      c.packetsSent! += s.packetsTransmitted;
      c.packetsReceived! += s.packetsReceived;
      c.wireBytesSent! += s.bytesTransmitted;
      c.wireBytesReceived! += s.bytesReceived;
      c.retransmits!.packets += s.retransmits;
      c.retransmits!.fast! += s.fastRecoveries;
      c.retransmits!.timeouts! += s.rtoCount;
      c.extra.mtuBytes = s.mtu;
    }
    return c;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s?.destroy();
    this.streams.length = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) await socket.close();
  }
}
