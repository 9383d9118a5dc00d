/**
 * `ferry impair`: a standalone UDP proxy that impairs the datagrams it forwards.
 *
 * Why: to put loss, delay, reordering and a rate limit between two programs that know nothing of
 * ferry's impairment layer (ferry against a peer, two foreign tools, a benchmark baseline), on a
 * kernel without netem. Clients send to the listen address; each client gets its own upstream socket
 * connected to the target, so the target's replies come back on that socket and are returned to the
 * right client. One Impairment per direction models one link each way, shared by all clients (a
 * rate limit is a property of the path, not of a client).
 *
 * Bounded: at most `maxClients` client mappings (more clients are refused and counted), each
 * forgotten after `clientIdleMs` without traffic; held datagrams are bounded by the impairment.
 *
 * ```ts
 * const proxy = await ImpairProxy.create({ listen: '127.0.0.1:0', to: '127.0.0.1:9000',
 *   impairment: 'loss=0.05,seed=7' });
 * console.log(proxy.listenAddress); // { host: '127.0.0.1', port: 41234, ... }
 * await proxy.close();
 * ```
 */
import dgram from 'node:dgram';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { readConfig, type ConfigOf } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import { MiB } from '../core/limits.js';
import { formatHostPort, isLoopbackHost, parseHostPort, type HostPort } from '../transport/impair/address.js';
import { readImpairmentConfig, type ImpairmentConfig } from '../transport/impair/config.js';
import { Impairment, type ImpairmentStats } from '../transport/impair/impairment.js';
import { randomSeed } from '../transport/impair/prng.js';

export const IMPAIR_PROXY_SCHEMA = {
  direction: {
    kind: 'string',
    default: 'both',
    values: ['up', 'down', 'both'],
    doc: 'which way to impair: up (client to target), down (target to client) or both',
  },
  maxClients: {
    kind: 'int',
    default: 1024,
    min: 1,
    max: 65_536,
    doc: 'client addresses served at once; datagrams from more clients are dropped',
  },
  clientIdleMs: {
    kind: 'ms',
    default: 60_000,
    min: 100,
    max: 86_400_000,
    doc: 'a client mapping without traffic for this long is closed',
  },
  socketBufferBytes: {
    kind: 'bytes',
    default: 4 * MiB,
    min: 64 * 1024,
    max: 256 * MiB,
    doc: 'send and receive buffer of each proxy socket (the kernel may cap it)',
  },
} as const;

export type ImpairProxySettings = ConfigOf<typeof IMPAIR_PROXY_SCHEMA>;
export type ImpairDirection = 'up' | 'down' | 'both';

export interface ImpairProxyOptions extends Partial<ImpairProxySettings> {
  /** Where clients send: `HOST:PORT` (port 0: any free port). */
  listen: string;
  /** Where datagrams are forwarded: `HOST:PORT`. */
  to: string;
  /** Impairment settings, applied to each impaired direction (object or `key=value,...`). */
  impairment?: string | Partial<ImpairmentConfig>;
  /** Allow non-loopback addresses. */
  insecure?: boolean;
  clock?: Clock;
}

export interface ImpairProxyStats {
  listen: string;
  to: string;
  direction: ImpairDirection;
  clientsActive: number;
  clientsTotal: number;
  /** Datagrams dropped because maxClients mappings existed already. */
  clientsRefused: number;
  clientsExpired: number;
  /** Datagrams and bytes sent on after impairment, client to target and back. */
  datagramsUp: number;
  bytesUp: number;
  datagramsDown: number;
  bytesDown: number;
  /** Held datagrams whose client mapping had expired or the proxy closed before they fell due. */
  droppedNoClient: number;
  /** Datagrams reaching an upstream socket from an address other than the target. */
  droppedStray: number;
  /** Socket errors (e.g. the target port not open). */
  socketErrors: number;
  /** null for a direction that is not impaired. */
  up: ImpairmentStats | null;
  down: ImpairmentStats | null;
}

interface ClientMapping {
  key: string;
  address: string;
  port: number;
  socket: dgram.Socket;
  lastActiveMs: number;
  closed: boolean;
}

/** Mixed into the up seed for the down direction, so the two directions decide independently. */
const DOWN_SEED_MIX = 0x5bd1e995;

export class ImpairProxy {
  readonly listenAddress: HostPort;
  readonly target: HostPort;
  readonly settings: ImpairProxySettings;
  private readonly clock: Clock;
  private readonly listenSocket: dgram.Socket;
  private readonly up: Impairment | null;
  private readonly down: Impairment | null;
  private readonly clients = new Map<string, ClientMapping>();
  private readonly counts = {
    clientsTotal: 0,
    clientsRefused: 0,
    clientsExpired: 0,
    datagramsUp: 0,
    bytesUp: 0,
    datagramsDown: 0,
    bytesDown: 0,
    droppedNoClient: 0,
    droppedStray: 0,
    socketErrors: 0,
  };
  /** Upstream sockets bind to loopback when the target is loopback (nothing else can reach them). */
  private readonly upstreamBindHost: string | undefined;
  private sweepTimer: TimerHandle | null = null;
  private closed = false;
  private readonly sendUp = (d: Buffer, m: ClientMapping): void => this.forwardUp(d, m);
  private readonly sendDown = (d: Buffer, m: ClientMapping): void => this.forwardDown(d, m);
  private readonly onSocketError = (): void => {
    this.counts.socketErrors++;
  };

  private constructor(
    listenSocket: dgram.Socket,
    listenAddress: HostPort,
    target: HostPort,
    settings: ImpairProxySettings,
    impairment: ImpairmentConfig,
    clock: Clock,
  ) {
    this.listenSocket = listenSocket;
    this.listenAddress = listenAddress;
    this.target = target;
    this.settings = settings;
    this.clock = clock;
    const loopbackHost = target.family === 'udp4' ? '127.0.0.1' : '::1';
    this.upstreamBindHost = isLoopbackHost(target.host) ? loopbackHost : undefined;
    const seed = impairment.seed === -1 ? randomSeed() : impairment.seed;
    const dir = settings.direction;
    this.up = dir === 'down' ? null : new Impairment({ ...impairment, seed }, clock);
    this.down =
      dir === 'up' ? null : new Impairment({ ...impairment, seed: (seed ^ DOWN_SEED_MIX) >>> 0 }, clock);
    listenSocket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    listenSocket.on('error', this.onSocketError);
    this.armSweep();
  }

  /**
   * Validates everything, binds the listen socket and starts forwarding. Throws INVALID_ARGUMENT or
   * INVALID_CONFIG for bad options, NOT_LOOPBACK for a non-loopback address without `insecure`,
   * BIND_FAILED when the listen address cannot be bound.
   */
  static async create(options: ImpairProxyOptions): Promise<ImpairProxy> {
    const { listen, to, impairment, insecure, clock, ...rest } = options;
    const listenAt = parseHostPort(listen, 'listen address', true);
    const target = parseHostPort(to, 'target address');
    if (!insecure) {
      for (const [what, a] of [
        ['listen', listenAt],
        ['target', target],
      ] as const) {
        if (!isLoopbackHost(a.host)) {
          throw new FerryError(
            'NOT_LOOPBACK',
            `${what} address ${formatHostPort(a)} is not loopback: the proxy forwards only between ` +
              'loopback addresses (127.0.0.0/8, ::1) unless insecure is set (--insecure)',
            { address: formatHostPort(a) },
          );
        }
      }
    }
    const settings = readConfig(IMPAIR_PROXY_SCHEMA, stripUndefined(rest), 'impair proxy');
    const impairConfig = readImpairmentConfig(impairment);
    const socket = await bindSocket(listenAt, settings.socketBufferBytes);
    const bound = socket.address();
    return new ImpairProxy(
      socket,
      { host: bound.address, port: bound.port, family: listenAt.family },
      target,
      settings,
      impairConfig,
      clock ?? systemClock,
    );
  }

  stats(): ImpairProxyStats {
    return {
      listen: formatHostPort(this.listenAddress),
      to: formatHostPort(this.target),
      direction: this.settings.direction as ImpairDirection,
      clientsActive: this.clients.size,
      ...this.counts,
      up: this.up?.stats() ?? null,
      down: this.down?.stats() ?? null,
    };
  }

  /** Stops forwarding: cancels held datagrams, closes every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) this.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = null;
    this.up?.close();
    this.down?.close();
    const closing = [...this.clients.values()].map((m) => this.closeMapping(m));
    closing.push(closeSocket(this.listenSocket));
    await Promise.all(closing);
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const m = this.mappingFor(rinfo);
    if (!m) return;
    m.lastActiveMs = this.clock.nowMs();
    if (this.up) this.up.process(msg, m, this.sendUp);
    else this.forwardUp(msg, m);
  }

  private fromTarget(msg: Buffer, from: dgram.RemoteInfo, m: ClientMapping): void {
    if (this.closed || m.closed) return;
    if (from.port !== this.target.port || from.address !== this.target.host) {
      this.counts.droppedStray++;
      return;
    }
    m.lastActiveMs = this.clock.nowMs();
    if (this.down) this.down.process(msg, m, this.sendDown);
    else this.forwardDown(msg, m);
  }

  private forwardUp(d: Buffer, m: ClientMapping): void {
    if (m.closed) {
      this.counts.droppedNoClient++;
      return;
    }
    this.counts.datagramsUp++;
    this.counts.bytesUp += d.length;
    try {
      m.socket.send(d, this.target.port, this.target.host);
    } catch {
      this.counts.socketErrors++; // the data path never throws: count and go on
    }
  }

  private forwardDown(d: Buffer, m: ClientMapping): void {
    if (this.closed) {
      this.counts.droppedNoClient++;
      return;
    }
    this.counts.datagramsDown++;
    this.counts.bytesDown += d.length;
    try {
      this.listenSocket.send(d, m.port, m.address);
    } catch {
      this.counts.socketErrors++;
    }
  }

  /** The mapping of a client address, made on its first datagram; null when maxClients are served. */
  private mappingFor(rinfo: dgram.RemoteInfo): ClientMapping | null {
    const key = `${rinfo.address}|${rinfo.port}`;
    const existing = this.clients.get(key);
    if (existing) return existing;
    if (this.clients.size >= this.settings.maxClients) {
      this.counts.clientsRefused++;
      return null;
    }
    const socket = dgram.createSocket({
      type: this.target.family,
      recvBufferSize: this.settings.socketBufferBytes,
      sendBufferSize: this.settings.socketBufferBytes,
    });
    const m: ClientMapping = {
      key,
      address: rinfo.address,
      port: rinfo.port,
      socket,
      lastActiveMs: this.clock.nowMs(),
      closed: false,
    };
    socket.on('error', this.onSocketError);
    socket.on('message', (msg, from) => this.fromTarget(msg, from, m));
    // Not connect(): sends before a connect completes throw, while sends before a bind completes are
    // queued by Node. Replies are matched to the target by their source address instead.
    socket.bind(0, this.upstreamBindHost);
    this.clients.set(key, m);
    this.counts.clientsTotal++;
    return m;
  }

  private closeMapping(m: ClientMapping): Promise<void> {
    m.closed = true;
    this.clients.delete(m.key);
    return closeSocket(m.socket);
  }

  /** Every clientIdleMs / 2, forgets clients idle for clientIdleMs. */
  private armSweep(): void {
    this.sweepTimer = this.clock.setTimer(this.settings.clientIdleMs / 2, () => {
      this.sweepTimer = null;
      if (this.closed) return;
      const oldestMs = this.clock.nowMs() - this.settings.clientIdleMs;
      for (const m of this.clients.values()) {
        if (m.lastActiveMs > oldestMs) continue;
        this.counts.clientsExpired++;
        void this.closeMapping(m);
      }
      this.armSweep();
    });
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function bindSocket(at: HostPort, bufferBytes: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({
      type: at.family,
      recvBufferSize: bufferBytes,
      sendBufferSize: bufferBytes,
    });
    const onError = (err: Error): void => {
      socket.close();
      reject(
        new FerryError(
          'BIND_FAILED',
          `could not bind ${formatHostPort(at)}: ${err.message}; pick a free port or an address of this machine`,
          { address: formatHostPort(at) },
          err,
        ),
      );
    };
    socket.once('error', onError);
    socket.bind(at.port, at.host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
