import test from 'ava';
import {
  ACTIVE_SENDER_MS,
  kernelDatagramBytes,
  MIN_SOCKET_WINDOW_PACKETS,
  ReceiveShare,
  USABLE_SOCKET_FRACTION,
} from '../../../src/transport/udp/receive-share.js';
import { DeliveryRateModel } from '../../../src/transport/udp/rate-model.js';

const SOCKET_BYTES = 8 * 1024 * 1024;

/** Counts `senders` peers that all sent DATA at `nowMs`. */
function countSenders(share: ReceiveShare, senders: number, nowMs: number): void {
  share.beginCount();
  for (let i = 0; i < senders; i++) share.count(nowMs, nowMs);
  share.endCount();
}

test('the kernel cost of a datagram is its power-of-two buffer for small ones, length plus overhead for large', (t) => {
  t.is(kernelDatagramBytes(1452), 2048 + 320, 'measured 2304 on loopback');
  t.is(kernelDatagramBytes(1600), 2048 + 320);
  t.is(kernelDatagramBytes(1800), 4096 + 320, 'measured 4352');
  t.is(kernelDatagramBytes(8800), 16_384 + 320, 'measured 16644');
  t.true(kernelDatagramBytes(65_000) >= 66_052, 'measured 66052');
  for (let bytes = 1200; bytes <= 65_507; bytes += 97) {
    t.true(kernelDatagramBytes(bytes) > bytes, `${bytes}`);
  }
});

test('two and eight senders get equal shares that together fit the usable buffer', (t) => {
  const share = new ReceiveShare(SOCKET_BYTES);
  t.is(share.usableBytes, SOCKET_BYTES * USABLE_SOCKET_FRACTION);
  countSenders(share, 1, 1000);
  const alone = share.sharePackets(1452);
  for (const n of [2, 8]) {
    countSenders(share, n, 1000);
    t.is(share.senders, n);
    const each = share.sharePackets(1452);
    t.is(each, Math.floor(share.usableBytes / n / kernelDatagramBytes(1452)));
    t.true(Math.abs(each * n - alone) <= n, `${n} shares of ${each} add up to one sender's ${alone}`);
    t.true(each * n * kernelDatagramBytes(1452) <= share.usableBytes, 'all shares in flight fit the buffer');
  }
});

test('a sender that stops gives its share back once it has been quiet ACTIVE_SENDER_MS', (t) => {
  const share = new ReceiveShare(SOCKET_BYTES);
  const lastData = [1000, 1000, 1000, 1000];
  const recount = (nowMs: number): void => {
    share.beginCount();
    for (const at of lastData) share.count(at, nowMs);
    share.endCount();
  };
  recount(1000);
  const quarter = share.sharePackets(1452);
  t.is(share.senders, 4);
  lastData[0] = lastData[1] = lastData[2] = 1000 + ACTIVE_SENDER_MS; // three keep sending; one stopped at 1000
  recount(1000 + ACTIVE_SENDER_MS - 1);
  t.is(share.senders, 4, 'still within the active interval');
  recount(1000 + ACTIVE_SENDER_MS);
  t.is(share.senders, 3);
  t.true(share.sharePackets(1452) > quarter);
  recount(1000 + 10 * ACTIVE_SENDER_MS);
  t.is(share.senders, 1, 'nobody sending: one share, the whole buffer, for the next sender');
});

test('a tiny socket buffer still grants each sender a few packets', (t) => {
  const share = new ReceiveShare(64 * 1024);
  countSenders(share, 8, 0);
  t.is(share.sharePackets(1452), MIN_SOCKET_WINDOW_PACKETS);
});

test('the window RTT is the smallest of recent rounds: a flow that joins a standing queue can fill its share', (t) => {
  // Two flows measured the same 2 ms path when it was quiet; now the receiver holds a 40 ms queue
  // that neither causes. With the all-time minimum RTT the late flow's window would be
  // 2 x 5 packets/ms x 2 ms = 20 packets: 20 packets per 40 ms round trip, a quarter of its rate,
  // and it would shrink further every round. With the recent RTT its window covers the round trip.
  const late = new DeliveryRateModel(4, 100_000, 0);
  late.onRttSample(2);
  late.onSample(5, false, true, 0, 2);
  t.is(late.cwndPackets(2), late.cwndGain * 5 * 2, 'the quiet path: the all-time minimum');
  for (let round = 0; round < 12; round++) {
    late.onRttSample(40);
    late.onSample(5, false, true, 0, 2);
  }
  t.is(late.recentMinRttMs, 40);
  t.true(late.cwndPackets(2) / 40 >= 5, 'window / RTT keeps up with the delivery rate');
  late.onRttSample(3);
  t.is(late.recentMinRttMs, 3, 'a shorter round trip counts at once');
});

test('random loss does not shrink the rate estimate: the delivery rate lowers only by the share lost', (t) => {
  const m = new DeliveryRateModel(4, 100_000, 0);
  for (let round = 0; round < 20; round++) m.onSample(100, false, true, 0, 10);
  const clean = m.btlBwPacketsPerMs;
  // 5 % of the packets lost at random: each round delivers 95 % of what was sent
  for (let round = 0; round < 20; round++) m.onSample(95, false, true, 0, 10);
  t.true(m.btlBwPacketsPerMs >= 0.95 * clean, `${m.btlBwPacketsPerMs} of ${clean}`);
  t.is(m.state, 'probeBw');
});
