import test from 'ava';
import { endpoint } from '../helpers/transport.js';
import type { PeerStateChange } from '../../src/transport/types.js';

test('connect pins a session; both sides report state changes; connect twice gives the same peer', async (t) => {
  const server = await endpoint(t);
  const client = await endpoint(t);
  const changes: PeerStateChange[] = [];
  server.onPeerState((c) => changes.push(c));
  const peer = await client.connect(server.address);
  t.is(peer.state, 'connected');
  t.is(peer.id, `127.0.0.1:${server.address.port}`);
  t.is(await client.connect(server.address), peer);
  t.deepEqual(
    changes.map((c) => [c.previous, c.state]),
    [['connecting', 'connected']],
  );
  t.false(server.peers()[0]!.pinned, 'accepted sessions are not pinned');
});

test('messages from pieces, both modes, to several peers at once; state queries by id and by peer', async (t) => {
  const a = await endpoint(t);
  const b = await endpoint(t);
  const c = await endpoint(t);
  const got: string[] = [];
  b.onMessage((m) => void got.push(`b:${m.mode}:${m.payload.toString()}`));
  c.onMessage((m) => void got.push(`c:${m.mode}:${m.payload.toString()}`));
  const pb = await a.connect(b.address);
  const pc = await a.connect(c.address);
  const handles = a.sendMany([pb, pc], [Buffer.from('hel'), Buffer.from('lo')], { mode: 'fifo' });
  await Promise.all(handles.map((h) => h.delivered));
  t.deepEqual(got.sort(), ['b:fifo:hello', 'c:fifo:hello']);
  t.not(handles[0]!.messageId, handles[1]!.messageId);
  t.is(a.messageState(handles[0]!.messageId)?.state, 'delivered');
  t.deepEqual(
    a.messageStates([handles[1]!.messageId, 999_999]).map((s) => s?.state),
    ['delivered', undefined],
  );
  t.deepEqual(
    a.messagesOf(pc).map((m) => [m.messageId, m.sizeBytes, m.mode]),
    [[handles[1]!.messageId, 5, 'fifo']],
  );
  const empty = a.send(pb, new Uint8Array(0));
  await empty.delivered;
  t.is(a.stats().totals.messagesFailed, 0);
  t.is(b.stats().totals.messagesDelivered, 2);
});

test('trySend returns statuses at the limits; send throws the same codes; writable resolves on drain', async (t) => {
  const a = await endpoint(t, { config: 'maxQueuedMessages=2,maxMessageBytes=1KiB,maxReassemblyBytes=1KiB' });
  const b = await endpoint(t);
  const release: (() => void)[] = [];
  b.onMessage(() => new Promise<void>((resolve) => release.push(resolve)));
  const peer = await a.connect(b.address);
  t.is(a.trySend(peer, Buffer.alloc(1025)), 'MESSAGE_TOO_LARGE');
  t.throws(() => a.send(peer, Buffer.alloc(1025)), { code: 'MESSAGE_TOO_LARGE' } as never);
  const first = a.send(peer, Buffer.from('1'));
  const second = a.send(peer, Buffer.from('2'));
  t.is(a.trySend(peer, Buffer.from('3')), 'BACK_PRESSURED');
  t.throws(() => a.send(peer, Buffer.from('3')), { code: 'BACK_PRESSURED' } as never);
  await first.received;
  t.is(
    a.messageState(first.messageId)?.state,
    'received',
    'received, not yet delivered (handler still running)',
  );
  const drained = a.writable(peer);
  while (release.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  release.shift()!();
  await drained;
  await first.delivered;
  t.not(a.trySend(peer, Buffer.from('3')), 'BACK_PRESSURED');
  release.shift()!();
  await second.delivered;
});

test('disconnect closes both sides and fails what was in flight with NOT_CONNECTED; then NOT_CONNECTED and CLOSED', async (t) => {
  const a = await endpoint(t);
  const b = await endpoint(t);
  const bChanges: PeerStateChange[] = [];
  b.onPeerState((c) => bChanges.push(c));
  b.onMessage(() => new Promise<void>(() => {})); // never finishes
  const peer = await a.connect(b.address);
  const stuck = a.send(peer, Buffer.from('x'));
  await stuck.received;
  await a.disconnect(peer);
  t.is(peer.state, 'closed');
  await t.throwsAsync(stuck.delivered, { code: 'NOT_CONNECTED' } as never);
  t.is(a.trySend(peer, Buffer.from('y')), 'NOT_CONNECTED');
  t.is(a.peers().length, 0);
  t.is(a.peers({ includeInactive: true })[0]!.state, 'closed');
  while (!bChanges.some((c) => c.state === 'closed')) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(bChanges.at(-1)!.reason, 'NOT_CONNECTED');
  await a.close();
  t.is(a.trySend(peer, Buffer.from('z')), 'CLOSED');
  await t.throwsAsync(a.connect(b.address), { code: 'CLOSED' } as never);
});

test('a blacklisted address loses its session and cannot connect again until unblacklisted', async (t) => {
  const server = await endpoint(t);
  const client = await endpoint(t, { config: 'handshakeTimeoutMs=1500' });
  const changes: PeerStateChange[] = [];
  server.onPeerState((c) => changes.push(c));
  const peer = await client.connect(server.address);
  server.blacklist(client.address);
  t.is(changes.at(-1)!.state, 'blacklisted');
  t.is(changes.at(-1)!.reason, 'PEER_BLACKLISTED');
  while (peer.state === 'connected') await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(peer.state, 'closed', 'the blacklisted peer was told');
  await t.throwsAsync(client.connect(server.address), { code: 'HANDSHAKE_TIMEOUT' } as never);
  t.true(server.stats().dropped.blacklisted > 0);
  server.unblacklist(client.address);
  const again = await client.connect(server.address);
  t.is(again.state, 'connected');
});

test('IPv6 loopback works end to end', async (t) => {
  const a = await endpoint(t, { host: '::1' });
  const b = await endpoint(t, { host: '::1' });
  const got: Buffer[] = [];
  b.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await a.connect(b.address);
  t.is(peer.id, `[::1]:${b.address.port}`);
  const big = Buffer.alloc(100_000, 3);
  await a.send(peer, big).delivered;
  t.true(got[0]!.equals(big));
  t.throws(() => a.blacklist({ host: '127.0.0.1', port: 1 }), { code: 'INVALID_ARGUMENT' } as never);
});

test('stats come as JSON and as text, per peer and in total', async (t) => {
  const a = await endpoint(t);
  const b = await endpoint(t);
  b.onMessage(() => {});
  const peer = await a.connect(b.address);
  await a.send(peer, Buffer.alloc(5000)).delivered;
  const s = a.stats();
  t.is(s.peers, 1);
  t.true(s.totals.payloadBytesSent >= 5000);
  t.true(a.peers()[0]!.stats.packetsSent >= 4);
  t.is(JSON.parse(JSON.stringify(s)).totals.packetsSent, s.totals.packetsSent);
  t.regex(a.formatStats(), /peer 127\.0\.0\.1:\d+ \(connected\): packetsSent \d+/);
});

test('a message not delivered within messageTimeoutMs fails its promises with MESSAGE_TIMEOUT', async (t) => {
  const a = await endpoint(t, { config: 'messageTimeoutMs=1000' });
  const b = await endpoint(t);
  b.onMessage(() => new Promise<void>(() => {})); // never finishes
  const peer = await a.connect(b.address);
  const h = a.send(peer, Buffer.from('slow'));
  await t.throwsAsync(h.delivered, { code: 'MESSAGE_TIMEOUT' } as never);
  t.is(a.messageState(h.messageId)?.state, 'failed');
  t.is(a.messageState(h.messageId)?.errorCode, 'MESSAGE_TIMEOUT');
});

test('loopback users may raise the packet size up to the largest UDP payload', async (t) => {
  const a = await endpoint(t, { config: 'packetBytes=65507' });
  const b = await endpoint(t, { config: 'packetBytes=9000' });
  const got: Buffer[] = [];
  b.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await a.connect(b.address);
  // the session starts at pmtuStartBytes and probes up to the smaller maximum (one round trip here)
  for (let i = 0; i < 500 && a.peers()[0]!.stats.packetBytes !== 9000; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(a.peers()[0]!.stats.packetBytes, 9000, 'probed up to the smaller of both packet sizes');
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
  await a.send(peer, big).delivered;
  t.true(got[0]!.equals(big));
  const sent = a.peers()[0]!.stats;
  t.true(sent.bytesSent / sent.packetsSent > 8000, 'the session uses the smaller of both packet sizes');
  t.true(sent.bytesSent / sent.packetsSent <= 9000);
});

test('messages that arrive before the application set a handler wait for it', async (t) => {
  const a = await endpoint(t);
  const b = await endpoint(t);
  const peer = await a.connect(b.address);
  const h = a.send(peer, Buffer.from('early'), { mode: 'fifo' });
  await h.received;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(a.messageState(h.messageId)?.state, 'received', 'not delivered: nobody handled it yet');
  const got: string[] = [];
  b.onMessage((m) => void got.push(m.payload.toString()));
  await h.delivered;
  t.deepEqual(got, ['early']);
});

test('two endpoints connecting to each other at once end up with one session each way', async (t) => {
  const a = await endpoint(t);
  const b = await endpoint(t);
  const gotA: string[] = [];
  const gotB: string[] = [];
  a.onMessage((m) => void gotA.push(m.payload.toString()));
  b.onMessage((m) => void gotB.push(m.payload.toString()));
  const [pb, pa] = await Promise.all([a.connect(b.address), b.connect(a.address)]);
  t.is(pb.state, 'connected');
  t.is(pa.state, 'connected');
  t.is(a.peers().length, 1);
  t.is(b.peers().length, 1);
  await Promise.all([a.send(pb, Buffer.from('to b')).delivered, b.send(pa, Buffer.from('to a')).delivered]);
  t.deepEqual([gotA, gotB], [['to a'], ['to b']]);
});
