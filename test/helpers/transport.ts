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
import { nativeUdpStatus } from '../../src/transport/native/addon.js';

/** Every transport behind the MessageEndpoint contract: a shared test runs once per entry. */
export const TRANSPORTS = ['udp', 'tcp'] as const satisfies readonly TransportKind[];

/**
 * Both UDP socket paths (the endpoint option `socket`): a parameterised UDP test runs once per entry.
 * Native cases check that the native socket really runs (`endpoint`/`openEndpoint` assert it from
 * stats). Without the addon they are skipped, unless FERRY_REQUIRE_NATIVE=1: then they run and fail
 * with the loader's reason, so CI cannot pass on the fallback alone.
 */
export const SOCKETS = ['js', 'native'] as const;
export type SocketChoice = (typeof SOCKETS)[number];

/** A transport and, for UDP, a socket path; `name` is the test title's prefix ('udp' is the js path). */
export interface TransportCase {
  transport: TransportKind;
  socket?: SocketChoice;
  name: string;
}

/** UDP over each socket path, then TCP. */
export const TRANSPORT_CASES: readonly TransportCase[] = [
  { transport: 'udp', socket: 'js', name: 'udp' },
  { transport: 'udp', socket: 'native', name: 'udp native' },
  { transport: 'tcp', name: 'tcp' },
];

/** Whether the cases of `socket` run here (see SOCKETS); false means: register them as skipped. */
export function socketRuns(socket: SocketChoice | undefined): boolean {
  if (socket !== 'native') return true;
  return nativeUdpStatus().available || process.env.FERRY_REQUIRE_NATIVE === '1';
}

/** ava's `test` (or `test.serial`) for a case of `socket`, or its `skip` when the case cannot run here. */
export function testFor<T extends { skip: unknown }>(base: T, socket: SocketChoice | undefined): T {
  return (socketRuns(socket) ? base : base.skip) as T;
}

/** Throws unless `ep` runs on the socket path `socket` asked for (from its stats). */
export function checkSocket(
  ep: { stats(): { socket?: { kind: string } } },
  socket: SocketChoice | undefined,
): void {
  if (socket === undefined) return;
  const kind = ep.stats().socket?.kind;
  if (kind !== socket)
    throw new Error(`asked for the ${socket} UDP socket, the endpoint runs ${kind ?? 'none'}`);
}

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
  const { socket, ...rest } = opts;
  const ep = (await createEndpoint({
    transport,
    impair: null,
    ...(transport === 'udp' && socket ? { socket } : {}),
    ...rest,
  })) as AnyEndpoint;
  t.teardown(() => ep.close());
  if (transport === 'udp') checkSocket(ep, socket === 'js' || socket === 'native' ? socket : undefined);
  return ep;
}

/** A UDP endpoint on loopback without impairment (unless `opts` asks for it), closed at teardown. */
export async function endpoint(t: ExecutionContext, opts: EndpointOptions = {}): Promise<Endpoint> {
  const ep = await Endpoint.create({ impair: null, ...opts });
  t.teardown(() => ep.close());
  checkSocket(ep, opts.socket === 'js' || opts.socket === 'native' ? opts.socket : undefined);
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
