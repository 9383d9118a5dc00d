/**
 * Remote addresses as users write them: `ferry://HOST:PORT/NAME`, `ferry://[V6]:PORT/NAME`, or
 * `HOST:PORT:NAME`; the name may be absent (`ferry://HOST:PORT`, for ls). Anything else is BAD_URL
 * with the accepted forms in the message.
 */
import { isIP } from 'node:net';
import { FerryError } from '../../core/errors.js';

export interface RemoteRef {
  host: string;
  port: number;
  /** The file name, or null when the address names only the server. */
  name: string | null;
}

const FORMS =
  'use ferry://HOST:PORT/NAME or HOST:PORT:NAME (HOST an IP address; [::1] for IPv6 in ferry:// form)';

function bad(text: string, why: string): never {
  throw new FerryError('BAD_URL', `bad remote address "${text}": ${why}; ${FORMS}`);
}

function port(text: string, raw: string): number {
  if (!/^\d{1,5}$/.test(raw)) bad(text, `port "${raw}" is not a number`);
  const p = Number(raw);
  if (p < 1 || p > 65535) bad(text, `port ${p} is outside 1..65535`);
  return p;
}

function host(text: string, raw: string): string {
  const h = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (h === 'localhost') return '127.0.0.1';
  if (isIP(h) === 0) bad(text, `"${raw}" is not an IP address`);
  return h;
}

/** The name part of a ferry:// address, %-escapes decoded (BAD_URL for a malformed escape). */
function decodePath(text: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return bad(text, `"${raw}" has a malformed %-escape (write % itself as %25)`);
  }
}

/** True when `text` looks like a remote address (so `cp` can tell remote from local paths). */
export function looksRemote(text: string): boolean {
  return text.startsWith('ferry://') || /^(\[[0-9a-fA-F:.]+\]|[^/:\s]+):\d+(:|$)/.test(text);
}

export function parseRemote(text: string): RemoteRef {
  if (text.startsWith('ferry://')) {
    const rest = text.slice('ferry://'.length);
    const slash = rest.indexOf('/');
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const name = slash < 0 || slash === rest.length - 1 ? null : decodePath(text, rest.slice(slash + 1));
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) bad(text, 'no port');
    return {
      host: host(text, authority.slice(0, colon)),
      port: port(text, authority.slice(colon + 1)),
      name,
    };
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^/:\s]+):(\d+)(?::(.*))?$/.exec(text);
  if (!m) bad(text, 'not in either form');
  const name = m[3] === undefined || m[3] === '' ? null : m[3];
  return { host: host(text, m[1]!), port: port(text, m[2]!), name };
}

export function formatRemote(ref: RemoteRef): string {
  const h = ref.host.includes(':') ? `[${ref.host}]` : ref.host;
  return `ferry://${h}:${ref.port}${ref.name === null ? '' : `/${encodeURIComponent(ref.name)}`}`;
}
