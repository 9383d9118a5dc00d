/**
 * A message that times out (MESSAGE_TIMEOUT: its promises fail) stays in the session's sequence and is
 * still transmitted: from its own copy of the bytes, so the peer gets exactly the bytes sent, never a
 * DATA header without its payload nor stale buffer bytes, and the session stays usable.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../src/core/clock.js';
import { Endpoint } from '../../src/transport/endpoint.js';
import { Impairment } from '../../src/transport/impair/impairment.js';
import { until } from '../helpers/transport.js';

test('a timed-out message is sent whole from its own copy; the session goes on', async (t) => {
  t.timeout(60_000);
  const config = 'packetBytes=1452,pmtuProbe=false,messageTimeoutMs=100,maxRetransmits=8';
  const path = new Impairment('delayMs=150', systemClock);
  const receiver = await Endpoint.create({ impair: path, config });
  const sender = await Endpoint.create({ impair: null, config });
  t.teardown(async () => {
    await sender.close();
    await receiver.close();
  });
  const got: Buffer[] = [];
  receiver.onMessage((m) => void got.push(Buffer.from(m.payload)));
  const peer = await sender.connect(receiver.address);
  const big = randomBytes(2 * 1024 * 1024);
  const expected = Buffer.from(big);
  const first = sender.send(peer, big);
  const err = await t.throwsAsync(first.delivered);
  t.is((err as { code?: string }).code, 'MESSAGE_TIMEOUT');
  big.fill(0); // the promises failed: the caller may reuse its buffer
  const state = (): string => sender.peers().find((p) => p.id === peer.id)?.state ?? 'gone';
  t.true(
    await until(() => got.length > 0 || state() !== 'connected', 4000),
    'the message arrived (bounded wait)',
  );
  t.is(receiver.stats().dropped.malformed, 0, 'the sender put malformed DATA packets on the wire');
  t.is(state(), 'connected');
  t.is(got.length, 1);
  t.true(Buffer.compare(got[0]!, expected) === 0, 'delivered bytes differ from the payload sent');
  const small = randomBytes(1000);
  const second = sender.send(peer, small);
  t.true(await until(() => got.length > 1 || state() !== 'connected', 2000), 'a later message arrives');
  await t.throwsAsync(second.delivered); // 150 ms delay > messageTimeoutMs
  t.true(Buffer.compare(got[1]!, small) === 0);
});
