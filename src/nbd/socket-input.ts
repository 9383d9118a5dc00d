/**
 * The incoming bytes of one NBD connection, read into memory the connection owns: one reused read
 * buffer, and for WRITE payloads the request's own buffer (the kernel copies the payload straight
 * where it goes), instead of a fresh 64 KiB buffer for every socket read.
 *
 * Why: Node's default read path allocates a new buffer per read. At 1-2 GiB/s of writes that garbage
 * forced a full garbage collection every ~64 MiB received and held ferry's NBD write speed to a
 * quarter of nbdkit's. `net.Socket` has a documented option for exactly this, `onread: { buffer,
 * callback }`, but in Node 20 `net.Server` cannot pass it to the sockets it accepts.
 *
 * How (the one place that touches Node internals): the server accepts with `pauseOnConnect`, so
 * nothing has been read; `adopt` takes the accepted socket's handle (`socket._handle`, internal) and
 * wraps it in a new `net.Socket({ handle, onread })` (the `handle` option is undocumented; Node's own
 * child_process handle passing uses it). Checked against lib/net.js of Node 20: the constructor
 * adopts the handle, installs the user buffer on it (`useUserBuffer`) and starts reading; with a
 * buffer *function*, its result after each read becomes the target of the next read; pause() and
 * resume() stop and start the handle. The original socket, left without a handle, only waits: it
 * is destroyed when the new one closes, so the server counts the connection until then and
 * server.close() still waits for it. When the internals are not there (another Node version), the
 * plain 'data' path is used: same behaviour, one allocation per read.
 *
 * Contract for the sink: bytes given to `bytes()` are lent (valid only during the call). A buffer
 * returned by `target()` may be written by the kernel until the next read is delivered (or the
 * socket closes), so the sink must keep it out of anyone else's hands until then; bytes that land
 * there are reported by `direct()`.
 */
import net from 'node:net';

/** Where a connection's bytes go. */
export interface InputSink {
  /** `buf[start, end)` arrived; lent, valid only during the call. */
  bytes(buf: Buffer, start: number, end: number): void;
  /** `n` bytes arrived at the start of `buf`, the buffer `target()` returned before this read. */
  direct(buf: Buffer, n: number): void;
  /** Where the next read should land, or null for the connection's read buffer. */
  target(): Buffer | null;
}

/** Handle methods the adoption relies on (from Node's stream_wrap); checked before use. */
interface AdoptableHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
}

export class SocketInput {
  private sink: InputSink | null = null;

  private constructor(
    /** The socket to write to, pause, resume and end. */
    readonly socket: net.Socket,
    /** True when reads land in owned buffers (`target()` is honoured). */
    readonly ownedReads: boolean,
    private readonly readBuffer: Buffer,
  ) {}

  /**
   * Takes over an accepted socket that has not started reading (server made with pauseOnConnect).
   * Reads land in a reused buffer of `readBufferBytes` when Node allows it, else in Node's own.
   */
  static adopt(accepted: net.Socket, readBufferBytes: number): SocketInput {
    const readBuffer = Buffer.allocUnsafeSlow(readBufferBytes);
    const handle = adoptableHandle(accepted);
    if (handle === null) return SocketInput.plain(accepted, readBuffer);
    let input: SocketInput | null = null;
    const socket = new net.Socket({
      handle,
      allowHalfOpen: false,
      onread: {
        buffer: () => input?.nextReadBuffer() ?? readBuffer,
        callback: (n: number, buf: Uint8Array) => input?.deliver(n, buf),
      },
    } as net.SocketConstructorOpts);
    // The original socket no longer owns the handle: nothing of it may close or read it.
    setHandle(accepted, null);
    socket.once('close', () => accepted.destroy());
    input = new SocketInput(socket, true, readBuffer);
    return input;
  }

  /** The plain path: Node's 'data' events (one allocation per read, targets ignored). */
  private static plain(accepted: net.Socket, readBuffer: Buffer): SocketInput {
    const input = new SocketInput(accepted, false, readBuffer);
    accepted.on('data', (chunk: Buffer) => input.sink?.bytes(chunk, 0, chunk.length));
    accepted.resume();
    return input;
  }

  /** Sends every byte from now on to `sink` (bytes that arrive with no sink are dropped). */
  setSink(sink: InputSink | null): void {
    this.sink = sink;
  }

  private nextReadBuffer(): Buffer {
    return this.sink?.target() ?? this.readBuffer;
  }

  private deliver(n: number, buf: Uint8Array): void {
    const sink = this.sink;
    if (sink === null) return;
    if (buf === this.readBuffer) sink.bytes(this.readBuffer, 0, n);
    else sink.direct(buf as Buffer, n);
  }
}

/** The accepted socket's handle if it has what adoption needs and is not reading yet, else null. */
function adoptableHandle(socket: net.Socket): AdoptableHandle | null {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node internal, checked below
  const handle: any = (socket as any)._handle;
  if (handle === null || typeof handle !== 'object') return null;
  if (typeof handle.readStart !== 'function' || typeof handle.readStop !== 'function') return null;
  if (typeof handle.useUserBuffer !== 'function' || handle.reading === true) return null;
  return handle as AdoptableHandle;
}

function setHandle(socket: net.Socket, handle: null): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node internal (see the header)
  (socket as any)._handle = handle;
}
