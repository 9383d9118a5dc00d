// SocketInput: reads of an accepted socket land in buffers the connection owns (the read buffer, or
// a target the sink names), the server still counts the connection until it closes, and a socket
// that cannot be adopted falls back to Node's 'data' events with the same bytes.
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { SocketInput, type InputSink } from '../../../src/nbd/socket-input.js';

/** Deterministic bytes (xorshift32). */
function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A sink that keeps every byte in order; when `aim` is set, asks for reads into its own buffer. */
class Collector implements InputSink {
  readonly parts: Buffer[] = [];
  directBytes = 0;
  readBufferBytes = 0;
  wrongTarget = 0;
  private aimed: Buffer | null = null;
  private readonly own = Buffer.alloc(100_000);

  constructor(private readonly aim: boolean) {}

  bytes(buf: Buffer, start: number, end: number): void {
    this.parts.push(Buffer.from(buf.subarray(start, end)));
    this.readBufferBytes += end - start;
  }

  direct(buf: Buffer, n: number): void {
    if (buf !== this.aimed) this.wrongTarget++;
    this.parts.push(Buffer.from(buf.subarray(0, n)));
    this.directBytes += n;
  }

  target(): Buffer | null {
    // A different part of the buffer each time, so a stale target would show as wrong bytes.
    const at = (this.parts.length * 997) % 50_000;
    this.aimed = this.aim ? this.own.subarray(at, at + 1 + (this.parts.length % 3) * 20_000) : null;
    return this.aimed;
  }

  get received(): Buffer {
    return Buffer.concat(this.parts);
  }
}

interface Run {
  input: SocketInput;
  client: net.Socket;
  sink: Collector;
  closedServer: Promise<void>;
}

/** A loopback server that hands its one connection to SocketInput; the client sends `data` in pieces. */
async function serveOnce(
  t: ExecutionContext,
  pauseOnConnect: boolean,
  aim: boolean,
  data: Buffer,
): Promise<Run> {
  const sink = new Collector(aim);
  const server = net.createServer({ pauseOnConnect });
  const sockets: net.Socket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const accepted = new Promise<SocketInput>((resolve) =>
    server.once('connection', (s) => {
      const input = SocketInput.adopt(s, 16 * 1024);
      input.setSink(sink);
      sockets.push(input.socket);
      resolve(input);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  sockets.push(client);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const input = await accepted;
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(data.length - at, 1 + ((i * 7919) % 40_000));
    client.write(data.subarray(at, at + n));
    at += n;
    if (i % 5 === 0) await new Promise((r) => setImmediate(r));
  }
  // Bounded wait (10 s) for every byte; the connection stays open.
  for (let i = 0; i < 1000 && sink.readBufferBytes + sink.directBytes < data.length; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const closedServer = new Promise<void>((resolve) => server.close(() => resolve()));
  return { input, client, sink, closedServer };
}

test('an accepted socket is adopted: reads land in the owned buffer and in the targets the sink names', async (t) => {
  const data = pattern(11, 600_000);
  const { input, client, sink, closedServer } = await serveOnce(t, true, true, data);
  t.true(input.ownedReads, 'Node 20 lets the handle be adopted (see socket-input.ts)');
  t.true(sink.received.equals(data), 'every byte, in order');
  t.true(sink.directBytes > 0, 'some reads went straight into the sink’s buffer');
  t.is(sink.wrongTarget, 0, 'direct() names the buffer target() gave');
  let serverClosed = false;
  void closedServer.then(() => (serverClosed = true));
  await new Promise((r) => setTimeout(r, 20));
  t.false(serverClosed, 'the server still counts the connection while it is open');
  client.end();
  await closedServer;
  t.true(input.socket.destroyed, 'the client’s end closed the adopted socket, then the server');
});

test('without targets every byte arrives through the read buffer', async (t) => {
  const data = pattern(12, 300_000);
  const { input, sink } = await serveOnce(t, true, false, data);
  t.true(input.ownedReads);
  t.is(sink.directBytes, 0);
  t.true(sink.received.equals(data));
});

test('a socket already reading (no pauseOnConnect) falls back to data events with the same bytes', async (t) => {
  const data = pattern(13, 300_000);
  const { input, sink } = await serveOnce(t, false, true, data);
  t.false(input.ownedReads, 'not adopted: Node had started reading it');
  t.is(sink.directBytes, 0, 'targets are ignored on the plain path');
  t.true(sink.received.equals(data));
});
