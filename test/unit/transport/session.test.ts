import { randomBytes } from 'node:crypto';
import { SessionKeys } from '../../../src/transport/crypto/key-schedule.js';
import test from 'ava';
import { encodePacket } from '../../../src/wire/packet-codec.js';
import { PacketType } from '../../../src/wire/packet-layout.js';
import { Pair } from './fake-link.js';

// A UDP session driven over fake links under a ManualClock: the session's own rules, no sockets.

test('handshake: a connecting client resends its HELLO, backing off, and gives up with HANDSHAKE_TIMEOUT', async (t) => {
  const p = new Pair('handshakeTimeoutMs=2000');
  const a = p.a;
  a.handshakePacket = encodePacket({ type: PacketType.HELLO, connectionId: 0n });
  a.handshakeIntervalMs = 100;
  a.handshakeNextSendMs = p.clock.nowMs() + 100;
  const connected = new Promise((resolve, reject) => a.connectWaiters.push({ resolve, reject }));
  const resentAtMs: number[] = [];
  for (let ms = 0; ms < 2100; ms += 10) {
    p.clock.advance(10);
    a.tick(p.clock.nowMs());
    if (p.linkA.sent.splice(0).some((d) => d.type === PacketType.HELLO)) resentAtMs.push(p.clock.nowMs());
  }
  t.true(resentAtMs.length >= 3, `resent ${resentAtMs.length} times`);
  const gaps = resentAtMs.slice(1).map((at, i) => at - resentAtMs[i]!);
  t.true(
    gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!),
    `intervals grow: ${gaps.join(', ')}`,
  );
  t.is(a.state, 'dead');
  await t.throwsAsync(connected, { code: 'HANDSHAKE_TIMEOUT' } as never);
  t.deepEqual(p.hostA.changes.at(-1), { previous: 'connecting', state: 'dead', reason: 'HANDSHAKE_TIMEOUT' });
});

test('handshake: a client whose ACCEPT was lost is connected by the first sealed packet of its session', async (t) => {
  const p = new Pair();
  const now = p.clock.nowMs();
  // both sides hold the handshake's keys: a packet that opens under them proves what ACCEPT would
  const keys = new SessionKeys(randomBytes(32), Buffer.from('secret'), randomBytes(32));
  p.b.useKeys(keys);
  p.a.useKeys(keys);
  p.b.establish(0x1111_0000_0000_0001n, 1, p.config.packetBytes, now, 2);
  p.b.setConnected();
  p.a.establish(0x2222_0000_0000_0002n, 2, p.config.packetBytes, now, 2); // CHALLENGE answered
  t.is(p.a.state, 'connecting');
  const connected = new Promise((resolve, reject) => p.a.connectWaiters.push({ resolve, reject }));
  const got: string[] = [];
  p.onMessage('a', (m) => void got.push(m.payload.toString()));
  p.b.enqueue(1, 'unordered', [Buffer.from('first')], 5, now); // ... and the server speaks first
  await p.settle();
  t.is(await connected, p.a.peer);
  t.is(p.a.state, 'connected');
  t.deepEqual(got, ['first']);
});

test('handshake: without keys (encryption off) a packet does not stand in for the lost ACCEPT', async (t) => {
  const p = new Pair();
  const now = p.clock.nowMs();
  p.b.establish(0x1111_0000_0000_0001n, 1, p.config.packetBytes, now, 2);
  p.b.setConnected();
  p.a.establish(0x2222_0000_0000_0002n, 2, p.config.packetBytes, now, 2);
  p.b.enqueue(1, 'unordered', [Buffer.from('first')], 5, now);
  await p.settle();
  t.is(p.a.state, 'connecting', 'an unsealed packet proves nothing: the client waits for ACCEPT');
});

test('loss and repair: lost DATA packets are resent and every message arrives once, in FIFO order', async (t) => {
  const p = new Pair();
  p.connect();
  const got: number[] = [];
  p.onMessage('b', (m) => void got.push(m.payload.readUInt32BE(0)));
  // lose every third datagram a sends, DATA included, the first two times round
  p.drop = (from, d, n) => from === 'a' && n % 3 === 0 && n < 60;
  const handles = [];
  for (let i = 0; i < 40; i++) {
    const payload = Buffer.alloc(3000);
    payload.writeUInt32BE(i, 0);
    handles.push(p.a.enqueue(i + 1, 'fifo', [payload], payload.length, p.clock.nowMs()));
  }
  await p.settle();
  await p.run(3000);
  t.deepEqual(
    handles.map((h) => h.info().state),
    handles.map(() => 'delivered'),
  );
  await Promise.all(handles.map((h) => h.delivered));
  t.deepEqual(
    got,
    Array.from({ length: 40 }, (_, i) => i),
  );
  const s = p.a.snapshot();
  t.true(s.retransmits > 0, 'repairs went out');
  t.true(s.fastRetransmits + s.timeouts > 0, 'losses were detected');
  t.is(p.b.snapshot().messagesDelivered, 40);
});

test('delivered reports: received when the peer has every byte, delivered only once its handler finished', async (t) => {
  const p = new Pair();
  p.connect();
  let finish = (): void => {};
  p.onMessage('b', () => new Promise<void>((resolve) => (finish = resolve)));
  const h = p.a.enqueue(1, 'unordered', [Buffer.from('hold me')], 7, p.clock.nowMs());
  let delivered = false;
  void h.delivered.then(() => (delivered = true));
  await p.run(200);
  await h.received;
  t.is(h.info().state, 'received');
  t.false(delivered);
  finish();
  await p.run(200);
  await h.delivered;
  t.is(h.info().state, 'delivered');
  t.true(p.hostA.finished.includes(h));
});

test('close: CLOSE is answered, both sessions end closed, disconnect waiters resolve, queued messages fail', async (t) => {
  const p = new Pair();
  p.connect();
  p.onMessage('b', () => new Promise<void>(() => {})); // never finishes: the message stays undelivered
  const h = p.a.enqueue(1, 'unordered', [Buffer.from('x')], 1, p.clock.nowMs());
  await p.settle();
  const closed = new Promise<void>((resolve, reject) => p.a.closeWaiters.push({ resolve, reject }));
  p.a.beginClose(p.clock.nowMs());
  t.is(p.a.state, 'closing');
  await t.throwsAsync(h.delivered, { code: 'NOT_CONNECTED' } as never);
  await p.settle();
  await closed;
  t.is(p.a.state, 'closed');
  t.is(p.b.state, 'closed');
  t.is(p.b.endReason, 'NOT_CONNECTED');
});

test('close: an unanswered CLOSE gives up after a few RTOs (at least a second)', async (t) => {
  const p = new Pair();
  p.connect();
  p.cut = true;
  p.a.beginClose(p.clock.nowMs());
  await p.run(900);
  t.is(p.a.state, 'closing');
  await p.run(3000);
  t.is(p.a.state, 'closed');
});

test('reset: ending a session fails its messages and its connect and writable waiters with the reason', async (t) => {
  const p = new Pair();
  p.connect();
  const h = p.a.enqueue(1, 'unordered', [Buffer.from('x')], 1, p.clock.nowMs());
  p.a.end('reset', 'PEER_RESET');
  await t.throwsAsync(h.received, { code: 'PEER_RESET' } as never);
  await t.throwsAsync(h.delivered, { code: 'PEER_RESET' } as never);
  await t.throwsAsync(p.a.writable(), { code: 'PEER_RESET' } as never);
  t.is(p.a.refusal(1), 'NOT_CONNECTED');
  t.deepEqual(p.hostA.changes.at(-1), { previous: 'connected', state: 'reset', reason: 'PEER_RESET' });
  p.a.end('dead', 'PEER_DEAD'); // idempotent: the first end stands
  t.is(p.a.state, 'reset');
});

test('timeouts: a silent peer is declared dead after heartbeatTimeoutMs, with heartbeats before', async (t) => {
  const p = new Pair('heartbeatIntervalMs=500,heartbeatTimeoutMs=1500');
  p.connect();
  await p.settle();
  p.cut = true;
  const cutAtMs = p.clock.nowMs();
  const h = p.a.enqueue(1, 'unordered', [Buffer.from('x')], 1, p.clock.nowMs());
  await p.run(1000);
  t.is(p.a.state, 'connected');
  const heartbeats = p.log.filter(
    (d) => d.from === 'a' && d.type === PacketType.HEARTBEAT && d.atMs > cutAtMs,
  );
  t.true(heartbeats.length > 0, 'the silent peer was probed with heartbeats');
  await p.run(2000);
  t.is(p.a.state, 'dead');
  t.is(p.a.endReason, 'PEER_DEAD');
  await t.throwsAsync(h.delivered, { code: 'PEER_DEAD' } as never);
});

test('timeouts: a message not delivered within messageTimeoutMs fails with MESSAGE_TIMEOUT, the session stays', async (t) => {
  const p = new Pair('messageTimeoutMs=300');
  p.connect();
  p.onMessage('b', () => new Promise<void>(() => {}));
  const h = p.a.enqueue(1, 'unordered', [Buffer.from('slow')], 4, p.clock.nowMs());
  await p.run(100);
  await h.received;
  await p.run(500);
  await t.throwsAsync(h.delivered, { code: 'MESSAGE_TIMEOUT' } as never);
  t.is(h.info().state, 'failed');
  t.is(p.a.state, 'connected');
  t.is(p.a.snapshot().messagesFailed, 1);
});
