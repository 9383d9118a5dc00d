/**
 * Exact-length reads over a socket for the handshake phase: `read(n)` and `skip(n)` as promises.
 *
 * Why: option haggling is a strict request/reply dialogue, clearest written as sequential code.
 * The reader holds at most `maxBufferedBytes` of unread input (it pauses the socket beyond that), so
 * a client that floods the handshake cannot grow memory. `skip` discards without buffering, so a
 * huge option that is refused costs no memory. When the handshake ends, `detach()` hands over any
 * bytes already received to the transmission phase. Bytes come from the connection's SocketInput,
 * lent: they are copied here (the handshake is a few hundred bytes).
 */
import type { Socket } from 'node:net';
import { FerryError } from '../core/index.js';
import type { InputSink, SocketInput } from './socket-input.js';

interface Waiter {
  bytes: number;
  skip: boolean;
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
}

const EMPTY = Buffer.alloc(0);

export class HandshakeReader implements InputSink {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private waiter: Waiter | null = null;
  private failure: FerryError | null = null;
  private paused = false;
  private readonly onEnd = (): void =>
    this.fail(new FerryError('CLOSED', 'the NBD client closed the connection'));

  constructor(
    private readonly socket: Socket,
    private readonly input: SocketInput,
    private readonly maxBufferedBytes: number,
  ) {
    input.setSink(this);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /** Resolves with exactly `bytes` bytes; rejects with CLOSED if the connection ends first. */
  read(bytes: number): Promise<Buffer> {
    return this.wait(bytes, false);
  }

  /** Discards exactly `bytes` bytes without keeping them. */
  async skip(bytes: number): Promise<void> {
    await this.wait(bytes, true);
  }

  /** Fails the pending read (timeout, shutdown). */
  fail(err: FerryError): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  /** Stops listening and returns the bytes received but not yet read. */
  detach(): Buffer {
    this.input.setSink(null);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    const rest = this.chunks.length === 0 ? EMPTY : Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    return rest;
  }

  private wait(bytes: number, skip: boolean): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new FerryError('INTERNAL', 'HandshakeReader: one read at a time'));
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { bytes, skip, resolve, reject };
      this.serve();
    });
  }

  /** InputSink: keeps a copy of the lent bytes. */
  bytes(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.chunks.push(Buffer.from(buf.subarray(start, end)));
    this.bufferedBytes += end - start;
    this.serve();
    if (this.bufferedBytes > this.maxBufferedBytes && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** InputSink: the handshake never asks for reads into a buffer of its own. */
  direct(): void {}

  target(): null {
    return null;
  }

  private serve(): void {
    const w = this.waiter;
    if (!w) return;
    if (w.skip) this.discard(w);
    if (w.bytes > this.bufferedBytes) {
      this.resumeIfDrained();
      return;
    }
    this.waiter = null;
    w.resolve(w.skip ? EMPTY : this.take(w.bytes));
    this.resumeIfDrained();
  }

  private discard(w: Waiter): void {
    while (w.bytes > 0 && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const n = Math.min(head.length, w.bytes);
      if (n === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
      this.bufferedBytes -= n;
      w.bytes -= n;
    }
  }

  private take(bytes: number): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const head = this.chunks[0]!;
      const n = Math.min(head.length, bytes - filled);
      head.copy(out, filled, 0, n);
      filled += n;
      if (n === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    }
    this.bufferedBytes -= bytes;
    return out;
  }

  private resumeIfDrained(): void {
    if (this.paused && this.bufferedBytes <= this.maxBufferedBytes) {
      this.paused = false;
      this.socket.resume();
    }
  }
}
