/**
 * Authentication and incarnations over TCP: the wrong secret (or none) gets nothing; a forged proof
 * is refused; frames before the handshake are dropped; a non-loopback listen needs a secret; a peer
 * that comes back with a newer incarnation replaces its old session (PEER_RESET), an older one is
 * refused.
 */
import test from 'ava';
import { TcpEndpoint } from '../../src/transport/tcp/tcp-endpoint.js';
import { encodeFrame } from '../../src/transport/tcp/frame-codec.js';
import { CloseReason, FrameType } from '../../src/transport/tcp/frame-layout.js';
import type { PeerStateChange } from '../../src/transport/types.js';
import { RawClient } from './transport-tcp-raw.js';

const QUICK = 'handshakeTimeoutMs=1500';

async function server(
  t: import('ava').ExecutionContext,
  secret?: string,
): Promise<{ ep: TcpEndpoint; got: Buffer[]; changes: PeerStateChange[] }> {
  const ep = await TcpEndpoint.create({ secret, config: QUICK });
  t.teardown(() => ep.close());
  const got: Buffer[] = [];
  const changes: PeerStateChange[] = [];
  ep.onMessage((m) => void got.push(Buffer.from(m.payload)));
  ep.onPeerState((c) => changes.push(c));
  return { ep, got, changes };
}

async function raw(t: import('ava').ExecutionContext, ep: TcpEndpoint): Promise<RawClient> {
  const c = await RawClient.open(ep.address);
  t.teardown(() => c.destroy());
  return c;
}

test('a peer with the wrong secret fails with AUTH_FAILED and gets nothing delivered', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await TcpEndpoint.create({ secret: 'wrong', config: QUICK });
  t.teardown(() => client.close());
  await t.throwsAsync(client.connect(ep.address), { code: 'AUTH_FAILED' } as never);
  t.deepEqual(ep.peers(), []);
  t.deepEqual(got, []);
  t.true(client.stats().dropped.unauthenticated > 0, "the client caught the server's wrong proof");
});

test('a peer without a secret cannot talk to an endpoint that has one, nor the other way round', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await TcpEndpoint.create({ config: QUICK });
  t.teardown(() => client.close());
  await t.throwsAsync(client.connect(ep.address), { code: 'AUTH_FAILED' } as never);
  const { ep: open } = await server(t);
  const withSecret = await TcpEndpoint.create({ secret: 'right', config: QUICK });
  t.teardown(() => withSecret.close());
  await t.throwsAsync(withSecret.connect(open.address), { code: 'AUTH_FAILED' } as never);
  t.deepEqual(got, []);
  t.is(ep.peers().length, 0);
  t.is(open.peers().length, 0);
});

test('the same secret connects and messages flow', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await TcpEndpoint.create({ secret: Buffer.from('right'), config: QUICK });
  t.teardown(() => client.close());
  const peer = await client.connect(ep.address);
  await client.send(peer, Buffer.from('hi')).delivered;
  t.deepEqual(got.map(String), ['hi']);
  t.is(ep.peers()[0]!.remoteIncarnation, client.incarnation);
});

test('a forged proof is refused with AUTH_FAILED and counted; no session appears', async (t) => {
  const { ep, changes } = await server(t, 'right');
  const c = await raw(t, ep);
  const end = await c.handshake({ listenPort: 1, incarnation: 1, secret: Buffer.from('right'), forge: true });
  t.is(end?.type, FrameType.CLOSE);
  t.is(end!.body[0], CloseReason.AUTH_FAILED);
  t.true(await c.waitClosed());
  t.is(ep.stats().dropped.unauthenticated, 1);
  t.deepEqual(ep.peers(), []);
  t.deepEqual(changes, []);
});

test('DATA before the handshake, a malformed HELLO, bad magic: dropped, counted, connection closed', async (t) => {
  const { ep, got } = await server(t, 'right');
  const data = await raw(t, ep);
  data.write(encodeFrame(FrameType.DATA, 0, 1, Buffer.from('sneaky')));
  t.true(await data.waitClosed());
  const hello = await raw(t, ep);
  hello.write(encodeFrame(FrameType.HELLO, 0, 0, Buffer.alloc(10)));
  t.is(await hello.closeReason(), CloseReason.PROTOCOL_ERROR);
  const magic = await raw(t, ep);
  magic.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.true(await magic.waitClosed());
  const d = ep.stats().dropped;
  t.true(d.overLimit >= 1, 'DATA is over the pre-handshake body limit');
  t.is(d.malformed, 1);
  t.is(d.badVersion, 1);
  t.deepEqual(got, []);
  t.is(ep.memoryStats().pendingHandshakes, 0);
});

test('a half-open connection that never says HELLO is closed after the handshake timeout', async (t) => {
  const { ep } = await server(t);
  const c = await raw(t, ep);
  t.is(ep.memoryStats().pendingHandshakes, 1);
  t.true(await c.waitClosed(4000));
  t.is(ep.memoryStats().pendingHandshakes, 0);
});

test('listening on a non-loopback address needs a secret or insecure', async (t) => {
  await t.throwsAsync(TcpEndpoint.create({ host: '0.0.0.0' }), { code: 'INSECURE_BIND' } as never);
  const a = await TcpEndpoint.create({ host: '0.0.0.0', insecure: true });
  await a.close();
  const b = await TcpEndpoint.create({ host: '0.0.0.0', secret: 'x' });
  await b.close();
  t.pass();
});

test('a newer incarnation of a peer resets its old session; an older one is refused as stale', async (t) => {
  const { ep, changes } = await server(t);
  const client = await TcpEndpoint.create({ config: QUICK });
  t.teardown(() => client.close());
  const peer = await client.connect(ep.address);
  const old = ep.peers()[0]!;
  const stale = await raw(t, ep);
  const refused = await stale.handshake({
    listenPort: client.address.port,
    incarnation: client.incarnation - 1,
    secret: null,
  });
  t.is(refused?.type, FrameType.CLOSE);
  t.is(refused!.body[0], CloseReason.STALE_INCARNATION);
  t.is(ep.stats().dropped.staleIncarnation, 1);
  t.is(ep.peers()[0]!.remoteConnectionId, old.remoteConnectionId, 'the live session stays');

  const reborn = await raw(t, ep);
  const accepted = await reborn.handshake({
    listenPort: client.address.port,
    incarnation: client.incarnation + 1,
    secret: null,
  });
  t.is(accepted?.type, FrameType.ACCEPT);
  const reset = changes.find((c) => c.state === 'reset');
  t.is(reset?.reason, 'PEER_RESET');
  const [fresh] = ep.peers();
  t.is(fresh!.remoteIncarnation, client.incarnation + 1);
  t.not(fresh!.remoteConnectionId, old.remoteConnectionId);
  t.not(changes.at(-1)!.peer, reset!.peer, 'a new session is a new Peer handle');
  // the old connection was closed: the real client learns it
  const deadline = Date.now() + 5000;
  while (peer.state === 'connected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.not(peer.state, 'connected');
});
