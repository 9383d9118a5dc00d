import test from 'ava';
import { BETA, CongestionController, PERSISTENT_TIMEOUTS } from '../../../src/transport/udp/congestion.js';

test('slow start doubles per window, then growth is one packet per window', (t) => {
  const cc = new CongestionController(10, 4, 1000);
  cc.onAcked(10, 1, 1);
  t.is(cc.cwndPackets, 20);
  cc.ssthreshPackets = 20;
  cc.onAcked(20, 1, 1);
  t.is(cc.cwndPackets, 21);
});

test('random loss (no queue building) leaves the window alone', (t) => {
  const cc = new CongestionController(100, 4, 1000);
  for (let pn = 1; pn < 50; pn += 5) cc.onLoss(pn, pn + 100, 1, 1);
  t.is(cc.cwndPackets, 100);
  t.is(cc.randomLosses, 10);
});

test('loss with a queue building shrinks the window by BETA once per epoch, and a spurious one is undone', (t) => {
  const cc = new CongestionController(100, 4, 1000);
  cc.onLoss(10, 200, 50, 1);
  cc.onLoss(11, 201, 50, 1);
  t.is(cc.cwndPackets, 100 * BETA, 'one reduction for the epoch');
  cc.onLoss(250, 300, 50, 1);
  t.is(cc.cwndPackets, 100 * BETA * BETA);
  cc.onSpuriousLoss();
  t.is(cc.cwndPackets, 100 * BETA);
});

test('a single RTO expiry is a probe; persistent ones reset the window; growth stops while queueing', (t) => {
  const cc = new CongestionController(100, 4, 1000);
  cc.onTimeout(10, 1);
  t.is(cc.cwndPackets, 100);
  cc.onTimeout(10, PERSISTENT_TIMEOUTS);
  t.is(cc.cwndPackets, 4);
  cc.onAcked(10, 100, 1);
  t.is(cc.cwndPackets, 4);
});
