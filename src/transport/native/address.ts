/**
 * Addresses as the native socket sees them: a port/flags word and four address words (the address
 * bytes in network order, so IPv4 in the first word, IPv6 in all four). Outgoing datagrams name a
 * `Destination` parsed once; incoming ones carry the words in the metadata array and become
 * `{ host, port }` objects only when asked, through a small cache, so a batch from a few peers
 * allocates nothing.
 */
import { isIP } from 'node:net';

import { ferryError } from '../../core/errors.js';
import { FLAG_IPV6 } from './native-limits.js';

/** A peer address as JavaScript code uses it. `host` is a numeric IP address. */
export interface UdpAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** A destination parsed for one socket: `words` is [port/flags, a0, a1, a2, a3]. */
export interface Destination extends UdpAddress {
  readonly words: Uint32Array;
}

/** Words per address in the tables: the port/flags word and four address words. */
export const ADDRESS_WORDS = 5;

function parseV4(host: string, out: Uint8Array, at: number): void {
  const parts = host.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** The 16 bytes of an IPv6 literal (validated by isIP first: `::`, hex groups, a dotted tail). */
function parseV6(host: string, out: Uint8Array): void {
  const groups: number[] = [];
  const expand = (s: string): number[] => {
    if (s === '') return [];
    const out16: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out16.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      } else out16.push(parseInt(g, 16));
    }
    return out16;
  };
  const gap = host.indexOf('::');
  if (gap < 0) groups.push(...expand(host));
  else {
    groups.push(...expand(host.slice(0, gap)));
    const tail = expand(host.slice(gap + 2));
    while (groups.length + tail.length < 8) groups.push(0);
    groups.push(...tail);
  }
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? 0;
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
}

/**
 * Parses `host`/`port` for a socket of `family`. An IPv4 host on an IPv6 socket becomes its
 * IPv4-mapped form (::ffff:a.b.c.d), as the kernel expects on a dual-stack socket.
 */
export function parseDestination(host: string, port: number, family: 4 | 6): Destination {
  const v = isIP(host);
  if (v === 0 || host.includes('%'))
    throw ferryError('INVALID_ARGUMENT', `destination host must be a numeric IP address, got '${host}'`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw ferryError('INVALID_ARGUMENT', `destination port must be an integer 1..65535, got ${port}`);
  if (family === 4 && v === 6)
    throw ferryError('INVALID_ARGUMENT', `an IPv4 socket cannot send to IPv6 address ${host}`);
  const words = new Uint32Array(ADDRESS_WORDS);
  const bytes = new Uint8Array(words.buffer, 4, 16);
  if (family === 4) parseV4(host, bytes, 0);
  else if (v === 4) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    parseV4(host, bytes, 12);
  } else parseV6(host, bytes);
  words[0] = port | (family === 6 ? FLAG_IPV6 : 0);
  return Object.freeze({ host, port, family, words });
}

/** RFC 5952 text of 16 address bytes: lower-case hex, the longest zero run (2+ groups) as `::`. */
export function formatIPv6(b: Uint8Array, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[at + i * 2] ?? 0) << 8) | (b[at + i * 2 + 1] ?? 0));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff)
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/**
 * Turns source words into `UdpAddress` objects, remembering the last `entries` distinct sources
 * (replaced round-robin), so the same few peers cost a compare of five words, not a string.
 */
export class SourceCache {
  private readonly words: Uint32Array;
  private readonly addresses: (UdpAddress | undefined)[];
  private readonly bytes: Uint8Array;
  private used = 0;
  private next = 0;
  private last = 0;

  constructor(private readonly entries: number) {
    this.words = new Uint32Array(entries * ADDRESS_WORDS);
    this.bytes = new Uint8Array(this.words.buffer);
    this.addresses = new Array<UdpAddress | undefined>(entries).fill(undefined);
  }

  /** The address whose port/flags word is `meta[at]` and address words `meta[at + 1 .. at + 4]`. */
  lookup(meta: Uint32Array, at: number): UdpAddress {
    const w = this.words;
    for (let n = 0, i = this.last; n < this.used; n++, i = i + 1 === this.used ? 0 : i + 1) {
      const o = i * ADDRESS_WORDS;
      if (
        w[o] === meta[at] &&
        w[o + 1] === meta[at + 1] &&
        w[o + 2] === meta[at + 2] &&
        w[o + 3] === meta[at + 3] &&
        w[o + 4] === meta[at + 4]
      ) {
        this.last = i;
        return this.addresses[i]!;
      }
    }
    const i = this.next;
    this.next = (i + 1) % this.entries;
    if (this.used < this.entries) this.used++;
    const o = i * ADDRESS_WORDS;
    for (let k = 0; k < ADDRESS_WORDS; k++) w[o + k] = meta[at + k]!;
    const pf = w[o]!;
    const b = this.bytes;
    const ab = (o + 1) * 4;
    const family = pf & FLAG_IPV6 ? 6 : 4;
    const host = family === 4 ? `${b[ab]}.${b[ab + 1]}.${b[ab + 2]}.${b[ab + 3]}` : formatIPv6(b, ab);
    const address: UdpAddress = Object.freeze({ host, port: pf & 0xffff, family });
    this.addresses[i] = address;
    this.last = i;
    return address;
  }
}
