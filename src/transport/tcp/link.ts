/**
 * `TcpLink`: the TCP transport's link, one connection's socket as its session sees it: writes batched
 * inside a cork (header and payload pieces as separate writes, one writev per batch), reads paused
 * while the application holds too much, and the connection's end (after the last frames, or at once).
 *
 * Why a link and not the socket itself: the session core and the frame logic should not know node:net
 * (a TCP link in a worker thread, or a TLS one, takes its place), and the rule "events of a socket the
 * session let go are ignored" lives here once. Every call is a direct method call.
 */
import type net from 'node:net';

/** Where a link hands what its socket reports. */
export interface StreamSink {
  /** Bytes arrived (frames to parse). */
  onChunk(chunk: Buffer): void;
  /** The kernel took what was queued: a writer waiting for room may go on. */
  onDrain(): void;
  /** The connection failed (`err`) or closed (null). */
  onGone(err: Error | null): void;
}

/** Longest a closed link's socket may take to flush its last frames (CLOSE) before it is destroyed. */
const CLOSE_LINGER_MS = 1000;

export class TcpLink {
  private corked = false;
  /** Let go: the socket's events no longer reach the sink. */
  private gone = false;

  constructor(
    readonly socket: net.Socket,
    sink: StreamSink,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (!this.gone) sink.onChunk(chunk);
    });
    socket.on('drain', () => {
      if (!this.gone) sink.onDrain();
    });
    socket.on('error', (err: Error) => {
      if (!this.gone) sink.onGone(err);
    });
    socket.on('close', () => {
      if (!this.gone) sink.onGone(null);
    });
  }

  /** False once the socket is destroyed (nothing more can be written). */
  get writable(): boolean {
    return !this.socket.destroyed;
  }

  /** Bytes written and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Starts a batch of writes; true when this call started it (the caller arranges the `uncork`). */
  cork(): boolean {
    if (this.corked) return false;
    this.corked = true;
    this.socket.cork();
    return true;
  }

  write(chunk: Uint8Array): void {
    this.socket.write(chunk);
  }

  /** Lets the batch go (one writev). */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Half-closes after what was written (a graceful close began). */
  end(): void {
    this.socket.end();
  }

  /**
   * Lets the connection go: `graceful` after the frames written so far (a CLOSE we wrote goes first,
   * unless the peer stopped reading), else at once. The socket's events stop here.
   */
  close(graceful: boolean): void {
    this.gone = true;
    const socket = this.socket;
    this.corked = false;
    socket.uncork();
    if (!graceful) {
      socket.destroy();
      return;
    }
    socket.destroySoon();
    setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
  }
}
