/**
 * One NBD client connection from accept to close: the handshake, then the transmission phase.
 *
 * Why a class of its own: the server must be able to end any connection in either phase (shutdown,
 * handshake timeout), and the handover from handshake to transmission must pass on the bytes that
 * were already read. Socket errors never escape: a broken connection simply closes.
 */
import type { Socket } from 'node:net';
import { FerryError, LIMITS } from '../core/index.js';
import type { NbdConfig } from './config.js';
import type { NbdExport } from './export.js';
import { HandshakeReader } from './handshake-reader.js';
import { negotiate } from './negotiation.js';
import type { LargeBuffers } from './request-slot.js';
import type { SocketInput } from './socket-input.js';
import { TransmissionSession } from './transmission.js';

export class NbdConnection {
  private readonly reader: HandshakeReader;
  private session: TransmissionSession | null = null;
  private shuttingDown = false;
  private timer: NodeJS.Timeout | null = null;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private readonly socket: Socket;

  constructor(
    private readonly input: SocketInput,
    private readonly exp: NbdExport,
    private readonly config: NbdConfig,
    private readonly large: LargeBuffers,
  ) {
    const socket = input.socket;
    this.socket = socket;
    socket.on('error', () => {
      // A reset or broken pipe: 'close' follows and ends the connection.
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.reader = new HandshakeReader(socket, input, 2 * LIMITS.NBD_MAX_OPTION_BYTES);
  }

  /** Runs the handshake and hands the socket to the transmission phase. Never rejects. */
  async run(): Promise<void> {
    this.timer = setTimeout(
      () =>
        this.reader.fail(new FerryError('TIMEOUT', 'the NBD client did not finish the handshake in time')),
      this.config.handshakeTimeoutMs,
    );
    try {
      const outcome = await negotiate(this.socket, this.reader, this.exp, () => this.shuttingDown);
      this.clearTimer();
      if (outcome === 'aborted' || outcome === 'refused') {
        this.endGracefully();
        return;
      }
      const leftover = this.reader.detach();
      this.session = new TransmissionSession(
        this.socket,
        this.input,
        this.exp,
        outcome,
        this.config,
        this.large,
      );
      if (this.shuttingDown) this.session.shutdown();
      this.session.start(leftover);
    } catch {
      this.clearTimer();
      this.socket.destroy();
    }
  }

  /** Stops taking requests; those in flight are answered, then the connection ends. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.session) this.session.shutdown();
    else this.reader.fail(new FerryError('CLOSED', 'the NBD server is shutting down'));
  }

  /** Cuts the connection at once. */
  destroy(): void {
    this.clearTimer();
    this.socket.destroy();
  }

  private endGracefully(): void {
    this.reader.detach();
    if (this.socket.destroyed) return;
    this.socket.end(() => this.socket.destroy());
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
