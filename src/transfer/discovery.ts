/**
 * Server discovery by UDP broadcast: servers listen on a well-known port (shared through reuseAddr,
 * so several servers on one machine all hear a probe) and answer with the port of their transfer
 * endpoint; `discover` broadcasts one probe and collects answers for a short while.
 *
 * On loopback the broadcast address 127.255.255.255 reaches every socket bound to the port, which
 * makes discovery testable without leaving the machine.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { FerryError } from '../core/errors.js';
import {
  decodeDiscovery,
  DISCOVERY_ANSWER,
  DISCOVERY_FLAG_READ_ONLY,
  DISCOVERY_FLAG_SECRET,
  DISCOVERY_PROBE,
  encodeDiscovery,
} from '../wire/transfer/index.js';

/** The UDP port discovery probes go to unless configured. */
export const DEFAULT_DISCOVERY_PORT = 7737;
/** How long `discover` collects answers unless told. */
export const DEFAULT_DISCOVERY_WAIT_MS = 1000;
/** Most answers `discover` keeps (a bound on what strangers can make it hold). */
export const MAX_DISCOVERY_ANSWERS = 256;

export interface DiscoveryResponderOptions {
  /** Address to listen on for probes (default 0.0.0.0: hears broadcasts to any interface). */
  host?: string;
  port?: number;
  /** The transfer endpoint's port, announced in answers. */
  serverPort: number;
  serverName: string;
  needsSecret: boolean;
  readOnly: boolean;
}

/** Answers discovery probes until closed. */
export class DiscoveryResponder {
  private constructor(private readonly socket: dgram.Socket) {}

  static async start(opts: DiscoveryResponderOptions): Promise<DiscoveryResponder> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const flags =
      (opts.needsSecret ? DISCOVERY_FLAG_SECRET : 0) | (opts.readOnly ? DISCOVERY_FLAG_READ_ONLY : 0);
    socket.on('message', (msg, rinfo) => {
      const probe = decodeDiscovery(msg);
      if (!probe || probe.kind !== DISCOVERY_PROBE) return;
      const answer = encodeDiscovery({
        kind: DISCOVERY_ANSWER,
        port: opts.serverPort,
        nonce: probe.nonce,
        flags,
        name: opts.serverName,
      });
      socket.send(answer, rinfo.port, rinfo.address);
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port ?? DEFAULT_DISCOVERY_PORT, opts.host ?? '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      socket.close();
      throw new FerryError(
        'BIND_FAILED',
        `discovery: cannot listen on port ${opts.port ?? DEFAULT_DISCOVERY_PORT}: ${(err as Error).message}`,
      );
    });
    return new DiscoveryResponder(socket);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export interface DiscoveredServer {
  host: string;
  port: number;
  name: string;
  needsSecret: boolean;
  readOnly: boolean;
}

export interface DiscoverOptions {
  /** Where to send the probe (default 127.255.255.255 and 255.255.255.255). */
  broadcast?: readonly string[];
  port?: number;
  waitMs?: number;
}

/** Broadcasts a probe and lists the servers that answer within `waitMs`. */
export async function discover(opts: DiscoverOptions = {}): Promise<DiscoveredServer[]> {
  const socket = dgram.createSocket({ type: 'udp4' });
  const nonce = randomBytes(8).readBigUInt64LE(0);
  const found = new Map<string, DiscoveredServer>();
  socket.on('message', (msg, rinfo) => {
    const a = decodeDiscovery(msg);
    if (!a || a.kind !== DISCOVERY_ANSWER || a.nonce !== nonce || found.size >= MAX_DISCOVERY_ANSWERS) return;
    // one server heard on several broadcast addresses answers once per address: keep the first
    const key = `${a.name}\0${a.port}`;
    if (found.has(key)) return;
    found.set(key, {
      host: rinfo.address,
      port: a.port,
      name: a.name,
      needsSecret: (a.flags & DISCOVERY_FLAG_SECRET) !== 0,
      readOnly: (a.flags & DISCOVERY_FLAG_READ_ONLY) !== 0,
    });
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, () => resolve()));
  socket.setBroadcast(true);
  const probe = encodeDiscovery({ kind: DISCOVERY_PROBE, port: 0, nonce, flags: 0, name: '' });
  for (const addr of opts.broadcast ?? ['127.255.255.255', '255.255.255.255']) {
    socket.send(probe, opts.port ?? DEFAULT_DISCOVERY_PORT, addr, () => undefined);
  }
  await new Promise<void>((r) => setTimeout(r, opts.waitMs ?? DEFAULT_DISCOVERY_WAIT_MS));
  await new Promise<void>((r) => socket.close(() => r()));
  return [...found.values()].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}
