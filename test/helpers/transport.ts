/**
 * What the transport integration tests share: an endpoint of either transport closed at teardown,
 * the list of transports a parameterised test runs over, a peer's stats from the endpoint's peer
 * table, a free port, and bounded waits for a condition (tests assert the outcome, never how long it
 * took). Endpoints come through the public API (`createEndpoint`), so the tests keep working however
 * the transports are laid out inside src/transport.
 */
import type { ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  createEndpoint,
  Endpoint,
  TcpEndpoint,
  type CreateEndpointOptions,
  type EndpointOptions,
  type Peer,
  type PeerStats,
  type TransportKind,
} from '../../src/index.js';

/** Every transport behind the MessageEndpoint contract: a shared test runs once per entry. */
export const TRANSPORTS = ['udp', 'tcp'] as const satisfies readonly TransportKind[];

/** What `createEndpoint` returns, with each class's own extras (incarnation, memoryStats). */
export type AnyEndpoint = Endpoint | TcpEndpoint;

export type OpenOptions = Omit<CreateEndpointOptions, 'transport'>;

/** An endpoint of `transport` on loopback without impairment, closed at teardown. */
export async function openEndpoint(
  t: ExecutionContext,
  transport: 'udp',
  opts?: OpenOptions,
): Promise<Endpoint>;
export async function openEndpoint(
  t: ExecutionContext,
  transport: 'tcp',
  opts?: OpenOptions,
): Promise<TcpEndpoint>;
export async function openEndpoint(
  t: ExecutionContext,
  transport: TransportKind,
  opts?: OpenOptions,
): Promise<AnyEndpoint>;
export async function openEndpoint(
  t: ExecutionContext,
  transport: TransportKind,
  opts: OpenOptions = {},
): Promise<AnyEndpoint> {
  const ep = (await createEndpoint({ transport, impair: null, ...opts })) as AnyEndpoint;
  t.teardown(() => ep.close());
  return ep;
}

/** A UDP endpoint on loopback without impairment (unless `opts` asks for it), closed at teardown. */
export async function endpoint(t: ExecutionContext, opts: EndpointOptions = {}): Promise<Endpoint> {
  const ep = await Endpoint.create({ impair: null, ...opts });
  t.teardown(() => ep.close());
  return ep;
}

/** The stats `ep` keeps for `peer` (throws when it has no such peer). */
export function statsOf(ep: Endpoint, peer: Peer): PeerStats {
  const info = ep.peers().find((p) => p.id === peer.id);
  if (!info) throw new Error(`no peer ${peer.id}`);
  return info.stats;
}

export const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `cond` holds, checking every 10 ms at most `rounds` times; returns whether it did. */
export async function until(cond: () => boolean, rounds = 2000): Promise<boolean> {
  for (let i = 0; i < rounds && !cond(); i++) await tick(10);
  return cond();
}

/** Polls every 10 ms until `poll` gives a value and returns it; throws naming `what` after `limitMs`. */
export async function waitFor<T>(what: string, poll: () => T | undefined, limitMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = poll();
    if (v !== undefined) return v;
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

/** A loopback port of `transport` that was free a moment ago (bound, read, released). */
export async function freePort(transport: TransportKind): Promise<number> {
  if (transport === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
