/**
 * Plain Node TCP: one connection per pair of nodes, length-prefixed frames, Nagle off. It is the
 * in-kernel reliable baseline a user-space protocol has to justify itself against.
 *
 * The lower-numbered node dials, then sends a hello frame naming itself, so the listener knows which
 * node each accepted connection is. Sends are corked for a batch and written with one writev at
 * `flush()`; back-pressure is `writableNeedDrain` and the 'drain' event.
 */
import net from 'node:net';
import { FrameReader, framePrefix } from '../framing.js';
import { fromOf, HEADER_BYTES, kindOf, writeHeader } from '../message.js';
import {
  plainCounters,
  type Link,
  type LinkCounters,
  type LinkOptions,
  type PeerEndpoint,
  type ReceiveHandler,
} from './link.js';

/** Kind of the hello frame (outside the benchmark's message kinds). */
const KIND_HELLO = 0;

export class TcpLink implements Link {
  private server: net.Server | null = null;
  private readonly socks: (net.Socket | undefined)[] = [];
  private readonly all = new Set<net.Socket>();
  private readonly corked = new Set<net.Socket>();
  private handler: ReceiveHandler = () => {};
  private helloWaiters = new Map<number, () => void>();
  private failure: Error | null = null;

  constructor(private readonly opts: LinkOptions) {}

  async listen(): Promise<number> {
    const server = net.createServer({ noDelay: true }, (s) => this.adopt(s, -1));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.opts.host, () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  }

  async connect(self: number, peers: readonly PeerEndpoint[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const p of peers) {
      if (p.node < self) {
        if (!this.socks[p.node]) waits.push(new Promise((resolve) => this.helloWaiters.set(p.node, resolve)));
        continue;
      }
      const s = net.connect({ port: p.port, host: p.host, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      this.adopt(s, p.node);
      const hello = Buffer.allocUnsafe(HEADER_BYTES);
      writeHeader(hello, KIND_HELLO, self, 0, HEADER_BYTES);
      s.write(framePrefix(hello, 0));
    }
    await Promise.all(waits);
  }

  private adopt(s: net.Socket, node: number): void {
    this.all.add(s);
    if (node >= 0) this.socks[node] = s;
    const reader = new FrameReader((h, size) => {
      if (kindOf(h) !== KIND_HELLO) return this.handler(h, size);
      const from = fromOf(h);
      this.socks[from] = s;
      this.helloWaiters.get(from)?.();
      this.helloWaiters.delete(from);
    }, this.opts.maxMessageBytes);
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.failure = err as Error;
        s.destroy();
      }
    });
    // A peer closing first resets the connection: expected at the end of a run.
    s.on('error', () => {});
  }

  trySend(node: number, header: Buffer, body: Buffer): boolean {
    const s = this.socks[node];
    if (!s || s.writableNeedDrain || s.destroyed) return false;
    if (!this.corked.has(s)) {
      s.cork();
      this.corked.add(s);
    }
    s.write(framePrefix(header, body.length));
    if (body.length > 0) s.write(body);
    return true;
  }

  writable(node: number): Promise<void> {
    const s = this.socks[node];
    if (!s || !s.writableNeedDrain || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  flush(): void {
    for (const s of this.corked) s.uncork();
    this.corked.clear();
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  counters(): LinkCounters {
    let sent = 0;
    let received = 0;
    for (const s of this.all) {
      sent += s.bytesWritten;
      received += s.bytesRead;
    }
    const c = plainCounters(null, null, sent, received);
    if (this.failure) c.extra.corruptStreams = 1;
    return c;
  }

  async close(): Promise<void> {
    this.flush();
    for (const s of this.all) s.destroy();
    this.all.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
