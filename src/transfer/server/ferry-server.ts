/**
 * A whole ferry server in one call: binds the UDP endpoint, opens the storage (memory, a host
 * directory, or a FlatFs you pass), the named block devices, optional discovery, and the
 * TransferServer over them. `ferry serve`, `ferry demo` and tests start servers this way.
 *
 * Why apart from TransferServer: TransferServer answers requests on an endpoint and storage it is
 * given and owns neither (so tests run it over a fake network and a memory FlatFs); FerryServer
 * owns what it opened, and closes it in order.
 */
import { isIP } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { GiB } from '../../core/limits.js';
import { openBlockDevice, parseBlockDeviceSpec } from '../../blockdev/factory.js';
import type { BlockDevice } from '../../blockdev/types.js';
import { DirectoryFlatFs } from '../../flatfs/directory.js';
import { MemoryFlatFs } from '../../flatfs/memory.js';
import type { FlatFs } from '../../flatfs/types.js';
import { Endpoint, type EndpointOptions } from '../../transport/endpoint.js';
import type { TransportConfig } from '../../transport/config.js';
import { isLoopbackHost } from '../../core/address.js';
import type { PeerAddress } from '../../transport/types.js';
import { DEFAULT_DISCOVERY_PORT, DiscoveryResponder } from '../discovery.js';
import { TransferServer } from './transfer-server.js';

/** Quota of a memory filesystem unless told (it bounds memory use). */
export const DEFAULT_MEMORY_QUOTA_BYTES = 4 * GiB;
/** The port `ferry serve` listens on unless told. */
export const DEFAULT_SERVER_PORT = 7733;

export interface FerryServerOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port; the CLI passes DEFAULT_SERVER_PORT). */
  port?: number;
  /** Serve this filesystem (the caller keeps ownership)... */
  fs?: FlatFs;
  /** ...or a host directory... */
  root?: string;
  /** ...or a fresh memory filesystem. */
  memory?: boolean;
  /** Bound on the total bytes of the served files. */
  quotaBytes?: number;
  /** Block devices: name -> spec (`memory:1GiB`, `file:/path[:SIZE]`) or an open device. */
  devices?: Record<string, string | BlockDevice>;
  secret?: string | Buffer;
  insecure?: boolean;
  /**
   * Seal every packet (default true). false is for benchmarks only and refused (INSECURE_BIND) on
   * a non-loopback address.
   */
  encrypt?: boolean;
  readOnly?: boolean;
  /** Answer discovery probes (default: on when bound to loopback). */
  discovery?: boolean;
  discoveryPort?: number;
  serverName?: string;
  /** One line per transfer. */
  log?: (line: string) => void;
  /** Transport settings (packet size, ...), as an object or `key=value,...`. */
  transport?: Partial<TransportConfig> | string;
  /** Impairment of received packets (default from FERRY_IMPAIR; null: none). */
  impair?: string | null;
  /** See TransferServerOptions.exposeHidden. */
  exposeHidden?: boolean;
  /** See TransferServerOptions.partTtlMs (`--part-ttl`, default 24 h). */
  partTtlMs?: number;
  clock?: Clock;
}

/**
 * A running ferry server: endpoint, storage, block devices, discovery. Start one with `start`.
 *
 * @example
 * const server = await FerryServer.start({ memory: true, quotaBytes: 2 * GiB });
 * console.log(server.address); // { host: '127.0.0.1', port: ... }
 * await server.close();
 */
export class FerryServer {
  private constructor(
    readonly endpoint: Endpoint,
    readonly server: TransferServer,
    readonly fs: FlatFs | undefined,
    private readonly ownsFs: boolean,
    readonly devices: Map<string, BlockDevice>,
    private readonly ownedDevices: BlockDevice[],
    private readonly discovery: DiscoveryResponder | null,
  ) {}

  get address(): PeerAddress {
    return this.endpoint.address;
  }

  static async start(opts: FerryServerOptions): Promise<FerryServer> {
    const host = opts.host ?? '127.0.0.1';
    if (isIP(host) === 0)
      throw new FerryError('INVALID_ARGUMENT', `listen host must be an IP address, got "${host}"`);
    const { fs, ownsFs } = await openFs(opts);
    const devices = new Map<string, BlockDevice>();
    const owned: BlockDevice[] = [];
    let endpoint: Endpoint | null = null;
    try {
      for (const [name, spec] of Object.entries(opts.devices ?? {})) {
        if (typeof spec !== 'string') {
          devices.set(name, spec);
          continue;
        }
        const dev = await openBlockDevice(parseBlockDeviceSpec(spec, opts.readOnly === true));
        owned.push(dev);
        devices.set(name, dev);
      }
      // `encrypt` is a BindOptions field the endpoint's bind plan reads (see endpoint-shell.ts).
      const bind: EndpointOptions & { encrypt?: boolean } = {
        host,
        port: opts.port ?? 0,
        ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
        ...(opts.insecure ? { insecure: true } : {}),
        ...(opts.encrypt !== undefined ? { encrypt: opts.encrypt } : {}),
        ...(opts.transport !== undefined ? { config: opts.transport } : {}),
        ...(opts.impair !== undefined ? { impair: opts.impair } : {}),
        ...(opts.clock ? { clock: opts.clock } : {}),
      };
      endpoint = await Endpoint.create(bind);
      const serverName = opts.serverName ?? `ferry@${endpoint.address.host}:${endpoint.address.port}`;
      const server = new TransferServer({
        endpoint,
        ...(fs ? { fs } : {}),
        devices,
        readOnly: opts.readOnly === true,
        serverName,
        exposeHidden: opts.exposeHidden === true,
        ...(opts.partTtlMs !== undefined ? { partTtlMs: opts.partTtlMs } : {}),
        ...(opts.log ? { log: opts.log } : {}),
        ...(opts.clock ? { clock: opts.clock } : {}),
      });
      const wantDiscovery = opts.discovery ?? isLoopbackHost(host);
      const discovery =
        wantDiscovery && isIP(host) === 4
          ? await DiscoveryResponder.start({
              host,
              port: opts.discoveryPort ?? DEFAULT_DISCOVERY_PORT,
              serverPort: endpoint.address.port,
              serverName,
              needsSecret: opts.secret !== undefined,
              readOnly: server.readOnly,
            }).catch(() => null)
          : null;
      return new FerryServer(endpoint, server, fs, ownsFs, devices, owned, discovery);
    } catch (err) {
      await endpoint?.close().catch(() => undefined);
      for (const d of owned) await d.close().catch(() => undefined);
      if (ownsFs) await fs?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Stops: requests in progress finish (uploads are left resumable), then everything closes. */
  async close(): Promise<void> {
    await this.discovery?.close();
    await this.server.close();
    await this.endpoint.close();
    for (const d of this.ownedDevices) {
      await d.flush().catch(() => undefined);
      await d.close().catch(() => undefined);
    }
    if (this.ownsFs) await this.fs?.close();
  }
}

async function openFs(opts: FerryServerOptions): Promise<{ fs: FlatFs | undefined; ownsFs: boolean }> {
  const kinds = [opts.fs !== undefined, opts.root !== undefined, opts.memory === true].filter(Boolean).length;
  if (kinds > 1)
    throw new FerryError('INVALID_ARGUMENT', 'serve one filesystem: fs, root or memory, not several');
  if (opts.fs) return { fs: opts.fs, ownsFs: false };
  const quota = opts.quotaBytes !== undefined ? { quotaBytes: opts.quotaBytes } : {};
  if (opts.root !== undefined) {
    return {
      fs: await DirectoryFlatFs.open({ root: opts.root, readOnly: opts.readOnly === true, ...quota }),
      ownsFs: true,
    };
  }
  if (opts.memory) {
    return {
      fs: new MemoryFlatFs({
        quotaBytes: opts.quotaBytes ?? DEFAULT_MEMORY_QUOTA_BYTES,
        readOnly: opts.readOnly === true,
      }),
      ownsFs: true,
    };
  }
  if (!opts.devices || Object.keys(opts.devices).length === 0) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      'nothing to serve: give root (a directory), memory, or block devices',
    );
  }
  return { fs: undefined, ownsFs: false };
}

export { DEFAULT_DISCOVERY_PORT };
