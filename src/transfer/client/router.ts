/**
 * Routes the replies arriving on a client's endpoint to the RpcClient of the peer they came from.
 *
 * Why: an endpoint has one message handler, but a program may talk to several servers through one
 * endpoint (a copy from one, a mount of another); each server session gets its own RpcClient.
 */
import type { MessageEndpoint } from '../../transport/types.js';
import type { RpcClient } from './rpc-client.js';

const routers = new WeakMap<MessageEndpoint, Map<string, RpcClient>>();

/** Attaches `rpc` to its endpoint's router (installing the router on first use). */
export function attachRpc(rpc: RpcClient): () => void {
  const ep = rpc.endpoint;
  let table = routers.get(ep);
  if (!table) {
    const t = new Map<string, RpcClient>();
    table = t;
    routers.set(ep, t);
    // RpcClient's handler settles only after the request's consumer did (rpc-client.ts): a reply's
    // bytes are consumed in place or copied before then, so the endpoint may reuse its buffer.
    ep.onMessage((msg) => t.get(msg.peer.id)?.handleMessage(msg), { reusePayloads: true });
    ep.onPeerState((change) => t.get(change.peer.id)?.handlePeerState(change));
  }
  table.set(rpc.peer.id, rpc);
  const t = table;
  return () => {
    if (t.get(rpc.peer.id) === rpc) t.delete(rpc.peer.id);
  };
}
