/**
 * An NBD server: exports one ferry block device to NBD clients (qemu, nbdcopy, fio, the kernel) on
 * a Unix socket or a TCP port.
 *
 * Why it exists: a block device is only as useful as the programs that can use it, and NBD is what
 * those programs speak. The server is an adapter over the BlockDevice interface, so the same code
 * exports a memory device, a file, or a remote ferry device.
 *
 * NBD has no authentication (ferry does not offer TLS here), so TCP listening is refused on any
 * address outside loopback unless the caller says `insecure`.
 *
 * @example
 * ```ts
 * const server = await NbdServer.listen({ device }, { unix: '/tmp/ferry.sock' });
 * console.log(server.uri); // nbd+unix:///?socket=/tmp/ferry.sock
 * await server.close();    // answers what is in flight, then flushes the device
 * ```
 */
import net from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { FerryError, LIMITS, isLoopbackHost } from '../core/index.js';
import type { BlockDevice } from '../blockdev/types.js';
import { readNbdConfig, type NbdConfig, type NBD_CONFIG_SCHEMA } from './config.js';
import { NbdConnection } from './connection.js';
import type { NbdExport } from './export.js';
import { LargeBuffers } from './request-slot.js';
import { SocketInput } from './socket-input.js';

export interface NbdServerOptions {
  device: BlockDevice;
  /** Export name; the empty name (the default export) always selects it too. Default ''. */
  exportName?: string;
  /** One line shown by clients that ask (NBD_INFO_DESCRIPTION). */
  description?: string;
  /** Refuse writes even if the device takes them. Default: the device's own readOnly. */
  readOnly?: boolean;
  /**
   * Advertise NBD_FLAG_CAN_MULTI_CONN: true when all connections share one device without a
   * private cache, so a flush on any connection covers writes completed on all of them. Default true.
   */
  multiConn?: boolean;
  /** Settings (see NBD_CONFIG_SCHEMA), as an object or `key=value,...`. */
  config?: Partial<Record<keyof typeof NBD_CONFIG_SCHEMA, unknown>> | string;
}

/** Where to listen: a Unix socket path, or a TCP host and port (port 0 picks a free one). */
export type NbdListenAddress = { unix: string } | { host: string; port: number; insecure?: boolean };

export class NbdServer {
  private readonly connections = new Set<NbdConnection>();
  private readonly large = new LargeBuffers();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: net.Server,
    private readonly exp: NbdExport,
    private readonly config: NbdConfig,
    /** Where the server listens, for people: `unix:/path` or `host:port`. */
    readonly address: string,
    /** An NBD URI for clients (nbdinfo, nbdcopy, qemu): `nbd+unix:///NAME?socket=PATH` or `nbd://HOST:PORT/NAME`. */
    readonly uri: string,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts listening. Throws INVALID_ARGUMENT, INSECURE_BIND or NBD_LISTEN_FAILED. */
  static async listen(options: NbdServerOptions, where: NbdListenAddress): Promise<NbdServer> {
    const config = readNbdConfig(options.config);
    const exp = makeExport(options, config);
    // pauseOnConnect: nothing is read before SocketInput takes the socket over.
    const server = net.createServer({ noDelay: true, pauseOnConnect: true });
    if ('unix' in where) {
      await listenUnix(server, where.unix);
      const uri = `nbd+unix:///${encodeURIComponent(exp.name)}?socket=${where.unix}`;
      return new NbdServer(server, exp, config, `unix:${where.unix}`, uri);
    }
    checkTcpAddress(where);
    const port = await listenTcp(server, where.host, where.port);
    const host = where.host.includes(':') ? `[${where.host}]` : where.host;
    return new NbdServer(
      server,
      exp,
      config,
      `${host}:${port}`,
      `nbd://${host}:${port}/${encodeURIComponent(exp.name)}`,
    );
  }

  /** TCP port the server listens on (0 for a Unix socket). */
  get port(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** Client connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops listening, lets every connection finish the requests it has in flight (cutting those
   * still open after shutdownGraceMs), then flushes the device (TIMEOUT if that takes longer than
   * shutdownGraceMs). Does not close the device.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.shutdown();
    const all = Promise.all([...this.connections].map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.shutdownGraceMs);
    });
    await Promise.race([all, grace]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await all;
    await stopped;
    await this.flushWithin(this.config.shutdownGraceMs);
  }

  /** Flushes the device, or fails with TIMEOUT (a remote device whose server is gone never answers). */
  private async flushWithin(limitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FerryError(
              'TIMEOUT',
              `the device did not finish its flush within ${limitMs} ms; writes since the last ` +
                'acknowledged flush may not be durable (is the remote server still running?)',
            ),
          ),
        limitMs,
      );
    });
    try {
      await Promise.race([this.exp.device.flush(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.connections.size >= this.config.maxConnections) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const input = SocketInput.adopt(socket, LIMITS.NBD_READ_BUFFER_BYTES);
    const conn = new NbdConnection(input, this.exp, this.config, this.large);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
    void conn.run();
  }
}

function makeExport(options: NbdServerOptions, config: NbdConfig): NbdExport {
  const name = options.exportName ?? '';
  if (Buffer.byteLength(name) > 4096 || name.includes('\0')) {
    throw new FerryError('INVALID_ARGUMENT', 'NBD export name: at most 4096 bytes and no NUL character');
  }
  return {
    name,
    description: options.description ?? '',
    device: options.device,
    readOnly: options.readOnly === true || options.device.readOnly,
    multiConn: options.multiConn ?? true,
    maxPayloadBytes: config.maxPayloadBytes,
  };
}

/** TCP without authentication is only for loopback, unless the caller accepts the risk. */
function checkTcpAddress(where: { host: string; port: number; insecure?: boolean }): void {
  if (!Number.isInteger(where.port) || where.port < 0 || where.port > 65535) {
    throw new FerryError('INVALID_ARGUMENT', `NBD port ${where.port}: use 0..65535`);
  }
  if (isLoopback(where.host) || where.insecure === true) return;
  throw new FerryError(
    'INSECURE_BIND',
    `NBD has no authentication: listening on ${where.host} would expose the device to the network; ` +
      'use a loopback address (127.0.0.1, ::1) or a Unix socket, or --insecure if you accept the risk',
  );
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || isLoopbackHost(host);
}

function listenTcp(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenFailed(`${host}:${port}`, err));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(a !== null && typeof a === 'object' ? a.port : port);
    });
  });
}

/**
 * Listens on a Unix socket; a stale socket left by a killed server is removed first. Only a socket
 * is ever removed: a regular file, folder, symlink or anything else at PATH is refused
 * (NBD_LISTEN_FAILED), so a mistyped `--unix` never deletes a user's file.
 */
async function listenUnix(server: net.Server, path: string): Promise<void> {
  try {
    await tryListenUnix(server, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await someoneListens(path))) {
      throw listenFailed(path, err as NodeJS.ErrnoException);
    }
    const st = await lstat(path).catch(() => null);
    if (st !== null && !st.isSocket()) {
      throw new FerryError(
        'NBD_LISTEN_FAILED',
        `cannot listen on ${path}: it exists and is not a socket (nothing was removed): choose another --unix path`,
        { where: path },
      );
    }
    await unlink(path).catch(() => {});
    await tryListenUnix(server, path).catch((e: NodeJS.ErrnoException) => {
      throw listenFailed(path, e);
    });
  }
}

function tryListenUnix(server: net.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function listenFailed(where: string, err: NodeJS.ErrnoException): FerryError {
  const hint =
    err.code === 'EADDRINUSE'
      ? 'another server already listens there: pick another port or socket path'
      : err.code === 'EACCES'
        ? 'no permission: pick a port above 1023 or a writable socket path'
        : 'check the address';
  return new FerryError(
    'NBD_LISTEN_FAILED',
    `cannot listen on ${where} (${err.code ?? err.message}): ${hint}`,
    {
      where,
      cause: err.code,
    },
  );
}
