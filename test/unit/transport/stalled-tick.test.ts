import test from 'ava';
import { openDatagram } from '../../../src/transport/seal.js';
import { STALLED_TICK_PERIODS } from '../../../src/transport/udp/session.js';
import { PacketView } from '../../../src/wire/packet-codec.js';
import { Pair, type Datagram } from './fake-link.js';

// A tick that comes long after the one before is a stall of this process, not the peer's silence:
// the loss checks wait one tick, so acks that waited in the socket meanwhile are read first. Driven
// over fake links under a ManualClock (fake-link.ts).

/** A pair whose b-to-a datagrams are held while `hold` is set, to be handed over later. */
function pairHoldingAcks(): { p: Pair; held: Datagram[]; setHold(on: boolean): void } {
  const p = new Pair();
  p.connect();
  p.onMessage('b', () => undefined);
  const held: Datagram[] = [];
  let hold = false;
  p.drop = (from, d) => {
    if (from !== 'b' || !hold) return false;
    held.push(d);
    return true;
  };
  return { p, held, setHold: (on) => (hold = on) };
}

function deliverTo(p: Pair, datagrams: Datagram[]): void {
  const view = new PacketView();
  for (const d of datagrams.splice(0)) {
    if (openDatagram(view, d.bytes, p.a.opener) !== 'ok') throw new Error('a held datagram did not open');
    p.a.onPacket(view, p.clock.nowMs());
  }
}

test('a stalled tick leaves the retransmission timeout to the next one: the acks read meanwhile end it', async (t) => {
  const { p, held, setHold } = pairHoldingAcks();
  await p.run(20);
  setHold(true);
  const h = p.a.enqueue(1, 'unordered', [Buffer.alloc(2000, 1)], 2000, p.clock.nowMs());
  await p.settle();
  t.true(held.length > 0, "b's ack is waiting (in the socket, as it were)");
  // this process did not run for far longer than the RTO
  p.clock.advance(STALLED_TICK_PERIODS * p.config.tickMs + 500);
  p.a.tick(p.clock.nowMs());
  t.is(p.a.snapshot().timeouts, 0, 'no timeout on the first tick after the stall');
  // the endpoint reads its socket before the next tick
  deliverTo(p, held);
  setHold(false);
  await p.run(10 * p.config.tickMs);
  const s = p.a.snapshot();
  t.is(s.timeouts, 0);
  t.is(s.retransmits, 0, 'nothing was resent');
  await h.received;
});

test('a packet really lost during a stall times out one tick later', async (t) => {
  const p = new Pair();
  p.connect();
  p.onMessage('b', () => undefined);
  await p.run(20);
  p.cut = true;
  p.a.enqueue(1, 'unordered', [Buffer.alloc(2000, 1)], 2000, p.clock.nowMs());
  await p.settle();
  p.clock.advance(STALLED_TICK_PERIODS * p.config.tickMs + 500);
  p.a.tick(p.clock.nowMs());
  t.is(p.a.snapshot().timeouts, 0, 'deferred on the stalled tick');
  p.clock.advance(p.config.tickMs);
  p.a.tick(p.clock.nowMs());
  t.true(p.a.snapshot().timeouts > 0, 'declared on the next one');
});

test('a process late on every tick still repairs losses, on every other tick', async (t) => {
  const p = new Pair();
  p.connect();
  p.onMessage('b', () => undefined);
  await p.run(20);
  p.cut = true;
  p.a.enqueue(1, 'unordered', [Buffer.alloc(2000, 1)], 2000, p.clock.nowMs());
  await p.settle();
  const lateMs = (STALLED_TICK_PERIODS + 1) * p.config.tickMs;
  for (let i = 0; i < 200; i++) {
    p.clock.advance(lateMs);
    p.a.tick(p.clock.nowMs());
    await p.settle();
  }
  t.true(p.a.snapshot().timeouts > 0, 'timeouts are still declared');
});
