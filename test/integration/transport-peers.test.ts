/**
 * The peers API of both transports (states, pins, pieces, sendMany, statuses, received vs delivered,
 * writable, disconnect, blacklist, IPv6, stats, message timeout, late handler, FIFO order,
 * simultaneous connect, nobody listening, close with data queued), run once per transport. Then what
 * is one transport's own: UDP's packet size up to the largest datagram, TCP's socket write queue as
 * a back-pressure limit of its own.
 */
import ava, { type ExecutionContext } from 'ava';
import type { PeerStateChange } from '../../src/index.js';
import {
  openEndpoint,
  tick,
  SOCKETS,
  testFor,
  TRANSPORT_CASES,
  waitFor,
  type AnyEndpoint,
  type OpenOptions,
} from '../helpers/transport.js';

const until = (what: string, ok: () => boolean): Promise<true> => waitFor(what, () => ok() || undefined);

for (const { transport, socket, name } of TRANSPORT_CASES) {
  const endpoint = (t: ExecutionContext, opts?: OpenOptions): Promise<AnyEndpoint> =>
    openEndpoint(t, transport, { socket, ...opts });
  const test = testFor(ava, socket);

  test(`${name}: connect pins a session; each side names the other by its listening address; either side finds the same session`, async (t) => {
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
    const accepted = changes[0]!.peer;
    t.is(accepted.id, `127.0.0.1:${client.address.port}`, 'the client is named by its listening address');
    t.false(server.peers()[0]!.pinned, 'accepted sessions are not pinned');
    t.is(
      await server.connect(client.address),
      accepted,
      'connect from the other side finds the same session',
    );
    t.true(server.peers()[0]!.pinned);
    t.is(server.peers().length, 1);
    t.is(client.peers().length, 1);
    const [info] = client.peers();
    t.regex(info!.localConnectionId, /^[0-9a-f]{16}$/);
    t.is(info!.remoteIncarnation, server.incarnation);
  });

  test(`${name}: messages from pieces, both modes, to several peers at once; state queries by id and by peer`, async (t) => {
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
    t.throws(() => a.send(pb, Buffer.from('x'), { mode: 'lifo' as never }), {
      code: 'INVALID_ARGUMENT',
    } as never);
    t.throws(() => a.send(pb, ['nope' as never]), { code: 'INVALID_ARGUMENT' } as never);
  });

  test(`${name}: trySend returns statuses at the limits; send throws the same codes; received comes before delivered; writable resolves on drain`, async (t) => {
    const a = await endpoint(t, {
      config: 'maxQueuedMessages=2,maxMessageBytes=1KiB,maxReassemblyBytes=1KiB',
    });
    const b = await endpoint(t);
    const release: (() => void)[] = [];
    b.onMessage(() => new Promise<void>((resolve) => release.push(resolve)));
    const peer = await a.connect(b.address);
    t.is(a.trySend(peer, Buffer.alloc(1025)), 'MESSAGE_TOO_LARGE');
    t.throws(() => a.send(peer, Buffer.alloc(1025)), { code: 'MESSAGE_TOO_LARGE' } as never);
    const first = a.send(peer, Buffer.from('1'));
    const second = a.send(peer, Buffer.from('2'), { mode: 'fifo' });
    t.is(a.trySend(peer, Buffer.from('3')), 'BACK_PRESSURED');
    t.throws(() => a.send(peer, Buffer.from('3')), { code: 'BACK_PRESSURED' } as never);
    await first.received;
    await second.received;
    t.is(
      a.messageState(first.messageId)?.state,
      'received',
      'received, not yet delivered (handler still running)',
    );
    const drained = a.writable(peer);
    await until('both handlers', () => release.length === 2);
    await tick(30);
    t.is(a.messageState(second.messageId)?.state, 'received');
    release.shift()!();
    await drained;
    await first.delivered;
    t.not(a.trySend(peer, Buffer.from('3')), 'BACK_PRESSURED');
    release.shift()!();
    await second.delivered;
  });

  test(`${name}: queue bytes: a message that does not fit waits; writable resolves when it fits, not before`, async (t) => {
    const a = await endpoint(t, { config: 'maxQueuedBytes=100KiB' });
    const b = await endpoint(t);
    const release: (() => void)[] = [];
    b.onMessage(() => new Promise<void>((resolve) => release.push(resolve)));
    const peer = await a.connect(b.address);
    // queue bytes count what the peer has not acknowledged yet: its ACK frees them, delivered or not
    const big = a.send(peer, Buffer.alloc(80 * 1024));
    t.is(a.trySend(peer, Buffer.alloc(80 * 1024)), 'BACK_PRESSURED');
    let resolved = false;
    const w = a.writable(peer).then(() => (resolved = true));
    t.false(resolved);
    await big.received;
    await w;
    t.true(resolved);
    t.not(a.trySend(peer, Buffer.alloc(80 * 1024)), 'BACK_PRESSURED');
    await until('handlers', () => release.length === 2);
    for (const r of release) r();
  });

  test(`${name}: disconnect closes both sides and fails what was in flight with NOT_CONNECTED; then NOT_CONNECTED and CLOSED`, async (t) => {
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
    await t.throwsAsync(a.writable(peer), { code: 'NOT_CONNECTED' } as never);
    t.is(a.peers().length, 0);
    t.is(a.peers({ includeInactive: true })[0]!.state, 'closed');
    await until('b sees the close', () => bChanges.some((c) => c.state === 'closed'));
    t.is(bChanges.at(-1)!.reason, 'NOT_CONNECTED');
    t.is(b.peers().length, 0);
    await a.close();
    t.is(a.trySend(peer, Buffer.from('z')), 'CLOSED');
    await t.throwsAsync(a.connect(b.address), { code: 'CLOSED' } as never);
    await t.throwsAsync(a.writable(peer), { code: 'CLOSED' } as never);
  });

  test(`${name}: a blacklisted address loses its session and is refused until unblacklisted`, async (t) => {
    const server = await endpoint(t);
    const client = await endpoint(t, { config: 'handshakeTimeoutMs=1500' });
    const changes: PeerStateChange[] = [];
    server.onPeerState((c) => changes.push(c));
    const peer = await client.connect(server.address);
    server.blacklist(client.address);
    t.is(changes.at(-1)!.state, 'blacklisted');
    t.is(changes.at(-1)!.reason, 'PEER_BLACKLISTED');
    await until('the client is told', () => peer.state !== 'connected');
    t.is(peer.state, 'closed', 'the blacklisted peer was told');
    // UDP drops a blacklisted address's HELLO without a word, so the client can only time out; a TCP
    // endpoint accepts the connection first and can say why it closes it
    const refusal = transport === 'udp' ? 'HANDSHAKE_TIMEOUT' : 'PEER_BLACKLISTED';
    await t.throwsAsync(client.connect(server.address), { code: refusal } as never);
    t.true(server.stats().dropped.blacklisted > 0);
    t.deepEqual(server.peers(), []);
    await t.throwsAsync(
      server.connect(client.address),
      { code: 'PEER_BLACKLISTED' } as never,
      'no dialing out either',
    );
    server.unblacklist(client.address);
    const again = await client.connect(server.address);
    t.is(again.state, 'connected');
    t.throws(() => client.blacklist({ host: 'nohost', port: 1 }), { code: 'INVALID_ARGUMENT' } as never);
  });

  test(`${name}: IPv6 loopback works end to end`, async (t) => {
    const a = await endpoint(t, { host: '::1' });
    const b = await endpoint(t, { host: '::1' });
    const got: Buffer[] = [];
    b.onMessage((m) => void got.push(Buffer.from(m.payload)));
    const peer = await a.connect(b.address);
    t.is(peer.id, `[::1]:${b.address.port}`);
    t.is(b.peers()[0]!.id, `[::1]:${a.address.port}`);
    const big = Buffer.alloc(3_000_000, 3);
    await a.send(peer, big).delivered;
    t.true(got[0]!.equals(big));
    t.throws(() => a.blacklist({ host: '127.0.0.1', port: 1 }), { code: 'INVALID_ARGUMENT' } as never);
  });

  test(`${name}: stats come as JSON and as text, per peer and in total`, async (t) => {
    const a = await endpoint(t);
    const b = await endpoint(t);
    b.onMessage(() => {});
    const peer = await a.connect(b.address);
    await a.send(peer, Buffer.alloc(5000)).delivered;
    const s = a.stats();
    t.is(s.peers, 1);
    t.true(s.bytesSent >= 5000 + 16);
    t.is(b.stats().totals.messagesReceived, 1);
    t.is(b.stats().totals.messagesDelivered, 1);
    if (transport === 'udp') {
      // resent payload counts too (a busy loopback drops a datagram now and then)
      t.true(s.totals.payloadBytesSent >= 5000);
      t.true(b.stats().totals.payloadBytesReceived >= 5000);
      t.true(a.peers()[0]!.stats.packetsSent >= 4, 'datagrams: HELLO, CONFIRM, 5000 B in packets');
    } else {
      t.is(s.totals.payloadBytesSent, 5000);
      t.is(b.stats().totals.payloadBytesReceived, 5000);
      t.true(a.peers()[0]!.stats.packetsSent >= 3, 'frames: HELLO, CONFIRM, DATA');
      // the packet machinery (retransmission, congestion window) is UDP's: over TCP it stays 0
      for (const k of ['retransmits', 'fastRetransmits', 'timeouts', 'duplicates', 'cwndPackets'] as const)
        t.is(s.totals[k], 0, k);
    }
    t.is(JSON.parse(JSON.stringify(s)).totals.packetsSent, s.totals.packetsSent);
    t.regex(a.formatStats(), /peer 127\.0\.0\.1:\d+ \(connected\): packetsSent \d+/);
  });

  test(`${name}: a message not delivered within messageTimeoutMs fails its promises with MESSAGE_TIMEOUT`, async (t) => {
    const a = await endpoint(t, { config: 'messageTimeoutMs=1000' });
    const b = await endpoint(t);
    b.onMessage(() => new Promise<void>(() => {})); // never finishes
    const peer = await a.connect(b.address);
    const h = a.send(peer, Buffer.from('slow'));
    await h.received;
    await t.throwsAsync(h.delivered, { code: 'MESSAGE_TIMEOUT' } as never);
    t.is(a.messageState(h.messageId)?.state, 'failed');
    t.is(a.messageState(h.messageId)?.errorCode, 'MESSAGE_TIMEOUT');
  });

  test(`${name}: messages that arrive before the application set a handler wait for it`, async (t) => {
    const a = await endpoint(t);
    const b = await endpoint(t);
    const peer = await a.connect(b.address);
    const h = a.send(peer, Buffer.from('early'), { mode: 'fifo' });
    const u = a.send(peer, Buffer.from('early too'));
    await h.received;
    await u.received;
    await tick(50);
    t.is(a.messageState(h.messageId)?.state, 'received', 'not delivered: nobody handled it yet');
    const got: string[] = [];
    b.onMessage((m) => void got.push(m.payload.toString()));
    await h.delivered;
    await u.delivered;
    t.deepEqual(got.sort(), ['early', 'early too']);
  });

  test(`${name}: FIFO messages are handed over one at a time, in order, even with asynchronous handlers`, async (t) => {
    const a = await endpoint(t);
    const b = await endpoint(t);
    const order: number[] = [];
    let running = 0;
    let maxRunning = 0;
    b.onMessage(async (m) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await tick(Math.floor(Math.random() * 3));
      order.push(m.payload.readUInt32BE(0));
      running--;
    });
    const peer = await a.connect(b.address);
    const handles = [];
    for (let i = 0; i < 200; i++) {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(i);
      handles.push(a.send(peer, p, { mode: 'fifo' }));
    }
    await Promise.all(handles.map((h) => h.delivered));
    t.deepEqual(order, [...Array(200).keys()]);
    t.is(maxRunning, 1);
  });

  test(`${name}: two endpoints connecting to each other at once end up with one session each way`, async (t) => {
    for (let round = 0; round < 10; round++) {
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
      await Promise.all([
        a.send(pb, Buffer.from('to b')).delivered,
        b.send(pa, Buffer.from('to a')).delivered,
      ]);
      t.deepEqual([gotA, gotB], [['to a'], ['to b']]);
      await a.close();
      await b.close();
    }
  });

  test(`${name}: connecting to a port where nothing listens fails with HANDSHAKE_TIMEOUT and state dead`, async (t) => {
    const a = await endpoint(t, { config: 'handshakeTimeoutMs=1500' });
    const b = await endpoint(t);
    const port = b.address.port;
    await b.close();
    await t.throwsAsync(a.connect({ host: '127.0.0.1', port }), { code: 'HANDSHAKE_TIMEOUT' } as never);
    t.is(a.peers({ includeInactive: true })[0]!.state, 'dead');
  });

  test(`${name}: an endpoint closes even when its peer stopped reading with data queued (the peer stays up)`, async (t) => {
    const a = await endpoint(t);
    const b = await endpoint(t, { config: 'maxReassemblyBytes=64KiB,maxMessageBytes=64KiB' });
    b.onMessage(() => new Promise<void>(() => {})); // never finishes: b stops reading
    await b.connect(a.address); // a accepts: its listening server waits for this connection on close
    const peer = await a.connect(b.address);
    const chunk = Buffer.alloc(60 * 1024);
    const handles = [];
    for (let i = 0; i < 400; i++) {
      const r = a.trySend(peer, chunk);
      if (typeof r === 'string') break;
      handles.push(r);
      if (i % 8 === 7) await tick(1);
    }
    await a.close();
    const outcomes = await Promise.all(
      handles.map((h) =>
        h.delivered.then(
          () => 'ok',
          (e: { code: string }) => e.code,
        ),
      ),
    );
    t.true(
      outcomes.every((o) => o === 'NOT_CONNECTED'),
      [...new Set(outcomes)].join(),
    );
    t.is(peer.state, 'closed');
  });
}

ava(
  'tcp: a receiver that holds too much stops reading: the socket write queue fills and trySend says BACK_PRESSURED until it drains',
  async (t) => {
    const a = await openEndpoint(t, 'tcp', { config: 'tcpWriteQueueBytes=64KiB' });
    const b = await openEndpoint(t, 'tcp', { config: 'maxReassemblyBytes=64KiB,maxMessageBytes=64KiB' });
    const release: (() => void)[] = [];
    b.onMessage(() => new Promise<void>((resolve) => release.push(resolve)));
    const peer = await a.connect(b.address);
    const chunk = Buffer.alloc(60 * 1024, 7);
    const handles = [];
    let stalled = false;
    // Send until the receiver's reading stops and every buffer on the way is full: then writable()
    // stays pending (bounded: 2000 messages = 120 MiB would be far more than the buffers hold).
    for (let i = 0; i < 2000 && !stalled; i++) {
      const r = a.trySend(peer, chunk);
      if (typeof r !== 'string') {
        handles.push(r);
        continue;
      }
      t.is(r, 'BACK_PRESSURED');
      stalled = await Promise.race([a.writable(peer).then(() => false), tick(300).then(() => true)]);
    }
    t.true(stalled, 'the sender was held back');
    t.true(handles.length < 1024, 'by the socket, not by the message window');
    t.true(
      b.memoryStats().heldBytes <= 64 * 1024 + chunk.length,
      'the receiver held at most its limit and one message',
    );
    const w = a.writable(peer);
    b.onMessage(() => {});
    const drainAll = setInterval(() => {
      for (const r of release.splice(0)) r();
    }, 5);
    t.teardown(() => clearInterval(drainAll));
    await w;
    await Promise.all(handles.map((h) => h.delivered));
    t.is(a.stats().totals.messagesFailed, 0);
  },
);

for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : ` (${socket} socket)`;
  testFor(ava, socket)(
    `udp${on}: loopback users may raise the packet size up to the largest UDP payload`,
    async (t) => {
      const a = await openEndpoint(t, 'udp', { socket, config: 'packetBytes=65507' });
      const b = await openEndpoint(t, 'udp', { socket, config: 'packetBytes=9000' });
      const got: Buffer[] = [];
      b.onMessage((m) => void got.push(Buffer.from(m.payload)));
      const peer = await a.connect(b.address);
      // the session starts at pmtuStartBytes and probes up to the smaller maximum (one round trip here)
      for (let i = 0; i < 500 && a.peers()[0]!.stats.packetBytes !== 9000; i++) await tick(10);
      t.is(a.peers()[0]!.stats.packetBytes, 9000, 'probed up to the smaller of both packet sizes');
      const big = Buffer.alloc(3 << 20);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
      await a.send(peer, big).delivered;
      t.true(got[0]!.equals(big));
      const sent = a.peers()[0]!.stats;
      t.true(sent.bytesSent / sent.packetsSent > 8000, 'the session uses the smaller of both packet sizes');
      t.true(sent.bytesSent / sent.packetsSent <= 9000);
    },
  );
}
