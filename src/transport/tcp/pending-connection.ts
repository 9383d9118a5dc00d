/**
 * A connection accepted by the listening socket whose peer has not proved the shared secret yet (the
 * server half of the handshake: HELLO read, CHALLENGE sent, CONFIRM awaited).
 *
 * Why apart from sessions: nothing from an unauthenticated connection may reach the session table or
 * the application, and each one costs only this object, its socket and a 16-byte reader until it
 * proves itself or the handshake timeout takes it away.
 */
import type net from 'node:net';
import type { SessionKeys } from '../crypto/key-schedule.js';
import type { TcpHello } from './frame-codec.js';
import { FrameReader, type FrameFields, type FrameReadStatus, type FrameSink } from './frame-reader.js';

export interface PendingHost {
  /** A frame of a pending connection; false stops reading (the connection was closed or handed on). */
  onPendingFrame(pending: PendingConnection, frame: FrameFields, body: Buffer): boolean;
  onPendingError(pending: PendingConnection, status: Exclude<FrameReadStatus, 'ok' | 'stopped'>): void;
  onPendingGone(pending: PendingConnection): void;
}

export class PendingConnection implements FrameSink {
  readonly reader: FrameReader;
  /** Set when HELLO was answered with CHALLENGE. */
  hello: TcpHello | null = null;
  key = '';
  localConnectionId = 0n;
  /** The handshake's keys, derived when the CHALLENGE went (the CONFIRM's proof is checked against them). */
  keys: SessionKeys | null = null;
  /** Handed over to a session: its events are no longer ours. */
  adopted = false;

  constructor(
    private readonly host: PendingHost,
    readonly socket: net.Socket,
    readonly remoteHost: string,
    readonly createdMs: number,
  ) {
    // Before the handshake only control frames are expected: DATA is refused past the control limit.
    this.reader = new FrameReader(0, this);
    socket.on('data', (chunk: Buffer) => {
      if (this.adopted) return;
      const status = this.reader.push(chunk);
      if (status !== 'ok' && status !== 'stopped') host.onPendingError(this, status);
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => {
      if (!this.adopted) host.onPendingGone(this);
    });
  }

  onFrame(frame: FrameFields, body: Buffer): boolean {
    return this.host.onPendingFrame(this, frame, body);
  }
}
