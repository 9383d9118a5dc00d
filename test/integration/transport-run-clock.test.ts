/**
 * A send made in a run whose flush was scheduled by something other than a send (an ack
 * that settled `received`/`delivered` and marked the session active) reuses the clock reading of an
 * older run as the message's creation time, so with messageTimeoutMs a message fails MESSAGE_TIMEOUT
 * long before it is that old.
 */
import test from 'ava';
import { systemClock } from '../../src/core/clock.js';
import { Endpoint } from '../../src/transport/endpoint.js';

test('send after await delivered: no message times out younger than messageTimeoutMs', async (t) => {
  t.timeout(20_000);
  const config = 'packetBytes=1452,pmtuProbe=false,messageTimeoutMs=400';
  const receiver = await Endpoint.create({ impair: null, config });
  const sender = await Endpoint.create({ impair: null, config });
  t.teardown(async () => {
    await sender.close();
    await receiver.close();
  });
  receiver.onMessage(() => undefined);
  const peer = await sender.connect(receiver.address);
  const startMs = Date.now();
  let sent = 0;
  let timedOut = 0;
  let oldestCreatedAgoMs = 0;
  // a tight await chain for ~1.2 s (each message is acked and delivered in a few ms on loopback)
  while (Date.now() - startMs < 1200 && sent < 5000) {
    const h = sender.send(peer, Buffer.alloc(64, sent & 0xff));
    sent++;
    const created = (h as unknown as { createdAtMs: number }).createdAtMs;
    oldestCreatedAgoMs = Math.max(oldestCreatedAgoMs, systemClock.nowMs() - created);
    try {
      await h.delivered;
    } catch (e) {
      if ((e as { code?: string }).code === 'MESSAGE_TIMEOUT') timedOut++;
      else throw e;
    }
  }
  t.log(`sent ${sent}, timed out ${timedOut}, largest (now - createdAtMs) at send ${oldestCreatedAgoMs} ms`);
  t.true(oldestCreatedAgoMs < 100, `a message was created with a clock reading ${oldestCreatedAgoMs} ms old`);
  t.is(timedOut, 0, 'messages delivered within a few ms failed with MESSAGE_TIMEOUT');
});
