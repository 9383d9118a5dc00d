import test from 'ava';
import { Endpoint } from '../../src/transport/endpoint.js';

test('stats count the payload bytes copied in user space: each send copies once, reassembly once, single-packet messages not at all on receipt', async (t) => {
  const rx = await Endpoint.create({ impair: null });
  const tx = await Endpoint.create({ impair: null });
  t.teardown(async () => {
    await tx.close();
    await rx.close();
  });
  const got: number[] = [];
  rx.onMessage((m) => {
    got.push(m.payload.length);
  });
  const peer = await tx.connect(rx.address);
  const big = Buffer.alloc(10_000, 1); // several packets of 1452 bytes
  await tx.send(peer, big).delivered;
  await tx.send(peer, Buffer.alloc(100, 2)).delivered;
  t.deepEqual(got, [10_000, 100]);
  const sent = tx.stats().totals;
  t.is(sent.bytesCopied, sent.payloadBytesSent, 'every payload byte sent was copied into a packet once');
  t.true(sent.payloadBytesSent >= 10_100);
  t.is(rx.stats().totals.bytesCopied, 10_000, 'the single-packet message was handed over without a copy');
});
