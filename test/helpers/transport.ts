/**
 * What the UDP transport's integration tests share: an endpoint closed at teardown, a peer's stats
 * from the endpoint's peer table, and a bounded wait for a condition (tests assert the outcome, never
 * how long it took).
 */
import type { ExecutionContext } from 'ava';
import { Endpoint, type EndpointOptions } from '../../src/transport/endpoint.js';
import type { Peer, PeerStats } from '../../src/transport/types.js';

/** An endpoint on loopback without impairment (unless `opts` asks for it), closed at teardown. */
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

/** Waits until `cond` holds, checking every 10 ms at most `rounds` times; returns whether it did. */
export async function until(cond: () => boolean, rounds = 2000): Promise<boolean> {
  for (let i = 0; i < rounds && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  return cond();
}
