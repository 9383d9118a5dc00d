/**
 * Server discovery by UDP broadcast: servers listen on a well-known port (shared through reuseAddr,
 * so several servers on one machine all hear a probe) and answer with the port of their transfer
 * endpoint; `discover` broadcasts one probe and collects answers for a short while.
 *
 * A server hears probes only where its endpoint listens: one on loopback binds the loopback
 * broadcast address 127.255.255.255 (which nothing off the machine can reach), one on an interface
 * address binds that interface's broadcast address, one on 0.0.0.0 binds 0.0.0.0; answers go from a
 * socket on the endpoint's own address. An answer is never larger than its probe (wire/transfer/
 * discovery.ts), and answers are rate-limited per source address and overall
 * (TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SOURCE_PER_SEC, DISCOVERY_ANSWERS_PER_SEC): a forged probe
 * flood cannot turn a server into a reflector.
 *
 * On loopback the broadcast address 127.255.255.255 reaches every socket bound to the port, which
 * makes discovery testable without leaving the machine.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { isLoopbackHost } from '../core/address.js';
import { systemClock, type Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import { TRANSFER_LIMITS } from '../core/limits.js';
import {
  decodeDiscovery,
  DISCOVERY_ANSWER,
  DISCOVERY_FLAG_READ_ONLY,
  DISCOVERY_FLAG_SECRET,
  DISCOVERY_PROBE,
  encodeDiscovery,
  encodeProbe,
} from '../wire/transfer/index.js';

/** The UDP port discovery probes go to unless configured. */
export const DEFAULT_DISCOVERY_PORT = 7737;
/** How long `discover` collects answers unless told. */
export const DEFAULT_DISCOVERY_WAIT_MS = 1000;
/** Most answers `discover` keeps (a bound on what strangers can make it hold). */
export const MAX_DISCOVERY_ANSWERS = 256;
/** The loopback interface's broadcast address (Linux routes it to every socket bound to the port). */
export const LOOPBACK_BROADCAST = '127.255.255.255';
const RATE_WINDOW_MS = 1000;

export interface DiscoveryResponderOptions {
  /** The transfer endpoint's IPv4 address: probes are heard and answered there only (default 127.0.0.1). */
  host?: string;
  port?: number;
  /** The transfer endpoint's port, announced in answers. */
  serverPort: number;
  serverName: string;
  needsSecret: boolean;
  readOnly: boolean;
  /** Time source of the rate limits; default the system clock. */
  clock?: Clock;
}

/** What a responder did with the probes it heard. */
export interface DiscoveryResponderStats {
  probes: number;
  answered: number;
  /** Probes not answered because their source or the server used up its answers for the second. */
  rateLimited: number;
  /** Probes from off the machine heard by a loopback server (should never happen) or not probes at all. */
  ignored: number;
}

/**
 * Where a server whose endpoint is on `host` listens for probes: the loopback broadcast address for
 * a loopback host, 0.0.0.0 for 0.0.0.0, else the broadcast address of the interface holding `host`
 * (the host itself when no interface has it).
 */
export function discoveryListenAddress(host: string): string {
  if (isLoopbackHost(host)) return LOOPBACK_BROADCAST;
  if (host === '0.0.0.0') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.address !== host) continue;
      const addr = ipv4ToInt(a.address);
      const mask = ipv4ToInt(a.netmask);
      return intToIpv4((addr | ~mask) >>> 0);
    }
  }
  return host;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/**
 * Answers per source address and overall, per one-second window. The source table holds only the
 * sources answered in the current window, so it is never larger than the overall limit.
 */
export class AnswerBudget {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private total = 0;
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly perSourcePerSec: number = TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SOURCE_PER_SEC,
    private readonly totalPerSec: number = TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SEC,
  ) {}

  /** Takes one answer for `source` at `nowMs`; false when a limit is used up. */
  take(source: string, nowMs: number): boolean {
    if (nowMs - this.windowStartMs >= RATE_WINDOW_MS) {
      this.windowStartMs = nowMs;
      this.total = 0;
      this.perSource.clear();
    }
    if (this.total >= this.totalPerSec) return false;
    const n = this.perSource.get(source) ?? 0;
    if (n >= this.perSourcePerSec) return false;
    this.perSource.set(source, n + 1);
    this.total++;
    return true;
  }
}

/** Answers discovery probes until closed. */
export class DiscoveryResponder {
  private readonly counts: DiscoveryResponderStats = { probes: 0, answered: 0, rateLimited: 0, ignored: 0 };

  private constructor(
    private readonly listener: dgram.Socket,
    private readonly replier: dgram.Socket,
  ) {}

  /** Where it hears probes (see `discoveryListenAddress`). */
  get listenAddress(): string {
    return this.listener.address().address;
  }

  stats(): DiscoveryResponderStats {
    return { ...this.counts };
  }

  static async start(opts: DiscoveryResponderOptions): Promise<DiscoveryResponder> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? DEFAULT_DISCOVERY_PORT;
    const listener = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const replier = dgram.createSocket({ type: 'udp4' });
    try {
      await bindOrFail(listener, port, discoveryListenAddress(host));
      await bindOrFail(replier, 0, host);
    } catch (err) {
      listener.close();
      replier.close();
      throw new FerryError(
        'BIND_FAILED',
        `discovery: cannot listen on port ${port}: ${(err as Error).message}`,
      );
    }
    const responder = new DiscoveryResponder(listener, replier);
    responder.answer(opts, isLoopbackHost(host));
    return responder;
  }

  private answer(opts: DiscoveryResponderOptions, loopbackOnly: boolean): void {
    const clock = opts.clock ?? systemClock;
    const budget = new AnswerBudget();
    const flags =
      (opts.needsSecret ? DISCOVERY_FLAG_SECRET : 0) | (opts.readOnly ? DISCOVERY_FLAG_READ_ONLY : 0);
    this.listener.on('message', (msg, rinfo) => {
      const probe = decodeDiscovery(msg);
      if (!probe || probe.kind !== DISCOVERY_PROBE || (loopbackOnly && !isLoopbackHost(rinfo.address))) {
        this.counts.ignored++;
        return;
      }
      this.counts.probes++;
      if (!budget.take(rinfo.address, clock.nowMs())) {
        this.counts.rateLimited++;
        return;
      }
      const answer = encodeDiscovery(
        { kind: DISCOVERY_ANSWER, port: opts.serverPort, nonce: probe.nonce, flags, name: opts.serverName },
        msg.length, // never larger than the probe
      );
      this.counts.answered++;
      this.replier.send(answer, rinfo.port, rinfo.address);
    });
    this.listener.on('error', () => undefined);
    this.replier.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    await new Promise<void>((resolve) => this.replier.close(() => resolve()));
  }
}

function bindOrFail(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export interface DiscoveredServer {
  host: string;
  port: number;
  name: string;
  needsSecret: boolean;
  readOnly: boolean;
}

export interface DiscoverOptions {
  /** Where to send the probe (default: 127.255.255.255, every interface's broadcast address, 255.255.255.255). */
  broadcast?: readonly string[];
  port?: number;
  waitMs?: number;
}

/**
 * The loopback broadcast address, each IPv4 interface's broadcast address (where a server bound to
 * that interface listens) and the limited broadcast (what a server on 0.0.0.0 hears too).
 */
export function defaultBroadcasts(): string[] {
  const out = new Set<string>([LOOPBACK_BROADCAST]);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) out.add(discoveryListenAddress(a.address));
    }
  }
  out.add('255.255.255.255');
  return [...out];
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
  const probe = encodeProbe(nonce); // padded: an answer is never larger than its probe
  for (const addr of opts.broadcast ?? defaultBroadcasts()) {
    socket.send(probe, opts.port ?? DEFAULT_DISCOVERY_PORT, addr, () => undefined);
  }
  await new Promise<void>((r) => setTimeout(r, opts.waitMs ?? DEFAULT_DISCOVERY_WAIT_MS));
  await new Promise<void>((r) => socket.close(() => r()));
  return [...found.values()].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}
