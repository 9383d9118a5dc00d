/**
 * The largest datagram the interface behind a bound address carries: what `packetBytes` defaults to,
 * so a session probes up to what the path can take without anyone passing a flag.
 *
 * Why per bound address and not per peer: the send pool's buffers are one size for the endpoint, and
 * an endpoint bound to loopback only ever talks over loopback (65,507 bytes there, the largest UDP
 * payload of IPv4), one bound to an interface's address over that interface (its MTU less the IP and
 * UDP headers), and one bound to the wildcard over whichever interface routes the peer, so the
 * largest of them is the ceiling and path-MTU probing (path-mtu.ts) finds the real size. Where the
 * interfaces cannot be read (not Linux), the ceiling stays at the configured default.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { LIMITS } from '../../core/limits.js';
import type { TransportConfig } from '../config.js';

/** IPv4 (20) and IPv6 (40) header bytes plus the UDP header (8). */
const IPV4_UDP_HEADER_BYTES = 28;
const IPV6_UDP_HEADER_BYTES = 48;

/** Reads an interface's MTU (Linux sysfs), or null when it cannot be read. */
export type MtuReader = (interfaceName: string) => number | null;

function readSysfsMtu(interfaceName: string): number | null {
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${interfaceName}/mtu`, 'utf8').trim());
    return Number.isInteger(mtu) && mtu > 0 ? mtu : null;
  } catch {
    return null;
  }
}

/** The interfaces as `os.networkInterfaces()` lists them: name, and its addresses. */
export type InterfaceList = Record<string, readonly { address: string; internal: boolean }[] | undefined>;

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * The MTUs of the interfaces a socket bound to `host` may send through. A wildcard socket counts the
 * external interfaces only (when it has any): a peer reached over loopback is rare there, and a
 * loopback-sized ceiling would let a probe pass on a LAN as IP fragments, which lose the whole
 * datagram with any one fragment.
 */
function candidateMtus(host: string, interfaces: InterfaceList, readMtu: MtuReader): number[] {
  const entries = Object.entries(interfaces);
  const external = entries.some(([, addresses]) => addresses?.some((a) => !a.internal));
  const mtus: number[] = [];
  for (const [name, addresses] of entries) {
    if (!addresses) continue;
    const serves = isWildcard(host)
      ? !external || addresses.some((a) => !a.internal)
      : addresses.some((a) => a.address === host);
    if (!serves) continue;
    const mtu = readMtu(name);
    if (mtu !== null) mtus.push(mtu);
  }
  return mtus;
}

/**
 * The largest UDP payload a socket bound to `host` (an IP literal) can send in one unfragmented
 * datagram, between LIMITS.MIN_PACKET_BYTES and LIMITS.MAX_PACKET_BYTES; `fallbackBytes` when no
 * interface serving `host` can be read.
 */
export function largestDatagramBytes(
  host: string,
  family: 4 | 6,
  fallbackBytes: number,
  interfaces: InterfaceList = networkInterfaces(),
  readMtu: MtuReader = readSysfsMtu,
): number {
  const mtus = candidateMtus(host, interfaces, readMtu);
  if (mtus.length === 0) return fallbackBytes;
  const headerBytes = family === 4 ? IPV4_UDP_HEADER_BYTES : IPV6_UDP_HEADER_BYTES;
  const payloadBytes = Math.max(...mtus) - headerBytes;
  return Math.min(LIMITS.MAX_PACKET_BYTES, Math.max(LIMITS.MIN_PACKET_BYTES, payloadBytes));
}

/** True when the user set `packetBytes` in the config they passed (object or `key=value,...`). */
function packetBytesGiven(input: Partial<TransportConfig> | string | undefined): boolean {
  if (input === undefined) return false;
  if (typeof input === 'string') return /(^|,)\s*packetBytes\s*=/.test(input);
  return input.packetBytes !== undefined;
}

/**
 * The endpoint's config with `packetBytes` raised to what the bound interface carries, unless the
 * user set it (then it is theirs, as given). Probing starts at pmtuStartBytes either way.
 */
export function withInterfacePacketBytes(
  config: TransportConfig,
  input: Partial<TransportConfig> | string | undefined,
  host: string,
  family: 4 | 6,
): TransportConfig {
  if (packetBytesGiven(input)) return config;
  const packetBytes = Math.min(
    largestDatagramBytes(host, family, config.packetBytes),
    // the send pool must hold 16 packets (config.ts's rule)
    Math.max(config.packetBytes, Math.floor(config.sendPoolBytes / 16)),
  );
  return packetBytes === config.packetBytes ? config : Object.freeze({ ...config, packetBytes });
}
