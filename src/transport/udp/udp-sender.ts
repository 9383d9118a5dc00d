/**
 * Sends one datagram made of several buffers (a header and payload slices) on a dgram socket, with as
 * little JavaScript per datagram as Node allows.
 *
 * Why not `socket.send(list, port, host)` alone: per call it re-wraps every buffer of the list in a new
 * Buffer, creates a closure for the name lookup, calls the lookup, enters an async-id scope and makes a
 * send request object — about 0.5 us per datagram more than the copy-into-one-buffer form, which
 * cancels what the copy saves (measured: array form 4.68 us CPU per 1452-byte datagram, copy + single
 * buffer 4.55 us, the handle call below with the same list 4.06 us; /tmp micro-benchmark, 15 rounds
 * of 20 000 sends, medians). Node has no sendmmsg, so the one syscall per datagram stays.
 *
 * The seam: dgram keeps its native UDP handle under the socket's 'state symbol', and that handle's
 * `send(req, list, count, port, address, hasCallback)` is what `socket.send` ends in (`send6` is
 * installed as `send` on IPv6 sockets). The native side tries `uv_udp_try_send` first; when it sends at
 * once it returns the size + 1 and keeps no reference to the request or the list, so both are reused.
 * Only when libuv queues the datagram (the socket buffer is full) does the request object get a
 * completion callback and hold the buffers; a fresh request object is made for the next send. A
 * negative result is an error (libuv's code): counted in `sendErrors` and finished like the dgram
 * path finishes a send whose callback got an error (the protocol sees a lost datagram).
 *
 * The request must be one of dgram's own SendWrap objects (the native side attaches its send state to
 * them). Their constructor is reached without `process.binding` (deprecated, DEP0111: it warns under
 * `--pending-deprecation`): at start-up one `socket.send` of an empty datagram goes through a wrapper
 * on the handle's `send` that keeps the constructor of the request dgram made and answers "sent"
 * without sending anything; the wrapper is removed at once. Until then (a tick), and for good if the
 * handle is not where this expects (another Node version), every send goes through the public
 * `socket.send`, with the same behaviour.
 */
import type dgram from 'node:dgram';

interface NativeUdpHandle {
  send(
    req: object,
    list: readonly Uint8Array[],
    count: number,
    port: number,
    address: string,
    hasCallback: boolean,
  ): number;
}

interface SendRequest {
  oncomplete?: (status: number, bytes: number) => void;
  list?: readonly Uint8Array[];
}

type SendWrapConstructor = new () => SendRequest;

/** dgram's native handle of `socket`, or null when it is not where this expects. */
function nativeHandle(socket: dgram.Socket): NativeUdpHandle | null {
  try {
    const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
    if (!key) return null;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node internals have no types; this is the one seam
    const state = (socket as any)[key] as { handle?: NativeUdpHandle } | undefined;
    const handle = state?.handle;
    return handle && typeof handle.send === 'function' ? handle : null;
  } catch {
    return null;
  }
}

/**
 * Learns dgram's SendWrap constructor from the request of one intercepted empty send (see the module
 * comment); calls `found` with it, or never when the handle does not behave as expected.
 */
function learnSendWrap(
  socket: dgram.Socket,
  handle: NativeUdpHandle,
  found: (c: SendWrapConstructor) => void,
): void {
  const sentinel = Buffer.alloc(0);
  const own = Object.prototype.hasOwnProperty.call(handle, 'send');
  const original = handle.send;
  const restore = (): void => {
    if (own) handle.send = original;
    else delete (handle as Partial<NativeUdpHandle>).send;
  };
  handle.send = function (this: NativeUdpHandle, req, list, ...rest): number {
    if (list[0] !== sentinel) return original.call(this, req, list, ...rest);
    restore();
    const ctor = (req as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && ctor !== Object) found(ctor as SendWrapConstructor);
    return 1; // "sent at once, 0 bytes": nothing goes on the wire
  };
  try {
    const { port, address } = socket.address();
    socket.send(sentinel, port, address, restore);
  } catch {
    restore();
  }
}

export class UdpSender {
  private handle: NativeUdpHandle | null = null;
  private SendWrap: SendWrapConstructor | null = null;
  private request: SendRequest | null = null;
  /** Datagrams libuv queued instead of sending at once (their buffers are held until completion). */
  queuedSends = 0;
  /** Sends the socket refused with an error (each a datagram lost; the protocol resends). */
  sendErrors = 0;

  /**
   * `onQueuedDone` runs when a datagram libuv had to queue has gone (its buffers are free again).
   * The socket must be bound.
   */
  constructor(
    private readonly socket: dgram.Socket,
    private readonly onQueuedDone: () => void,
    useNative = true,
  ) {
    const handle = useNative ? nativeHandle(socket) : null;
    if (!handle) return;
    learnSendWrap(socket, handle, (SendWrap) => {
      this.SendWrap = SendWrap;
      this.request = new SendWrap();
      this.handle = handle;
    });
  }

  /** True when sends bypass dgram's JavaScript (the native handle and its request type were found). */
  get native(): boolean {
    return this.handle !== null;
  }

  /** A send finished (dgram's callback): an error is counted; either way its buffers are free. */
  private readonly onComplete = (err?: Error | null): void => {
    if (err) this.sendErrors++;
    this.onQueuedDone();
  };

  /** A send libuv queued finished (the native callback: a negative status is an error). */
  private readonly onNativeComplete = (status: number): void => {
    if (status < 0) this.sendErrors++;
    this.onQueuedDone();
  };

  /**
   * Sends `list[0, count)` as one datagram. The buffers must stay unchanged until the socket's send
   * queue no longer holds this datagram (`socket.getSendQueueCount()`), as with `socket.send`.
   */
  send(list: Uint8Array[], count: number, port: number, address: string): void {
    const handle = this.handle;
    if (!handle) {
      this.socket.send(count === list.length ? list : list.slice(0, count), port, address, this.onComplete);
      return;
    }
    const req = this.request!;
    const result = handle.send(req, list, count, port, address, true);
    if (result > 0) return; // sent at once (size + 1)
    if (result < 0) {
      // an error (libuv's code), as dgram's callback would get it: counted, and the datagram is lost
      this.sendErrors++;
      this.onQueuedDone();
      return;
    }
    // queued by libuv: this request now belongs to the send; keep the buffers alive with it
    this.queuedSends++;
    req.list = list.slice(0, count);
    req.oncomplete = this.onNativeComplete;
    this.request = new this.SendWrap!();
  }
}
