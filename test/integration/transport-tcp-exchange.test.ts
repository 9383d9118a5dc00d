/**
 * The UDP transport's end-to-end exchange (transport-exchange.ts: 10 000 messages of random sizes,
 * exactly once, intact, FIFO order kept) run over the TCP transport, through the public factory.
 */
import test from 'ava';
import { createEndpoint } from '../../src/transport/create-endpoint.js';
import { TcpEndpoint } from '../../src/transport/tcp/tcp-endpoint.js';
import { runExchange, testSeed } from './transport-exchange.js';

test.serial('10 000 messages of random sizes arrive exactly once, intact, FIFO in order (TCP)', async (t) => {
  const { sender, receiver, bytes } = await runExchange(t, {
    seed: testSeed(),
    create: (o) => createEndpoint({ transport: 'tcp', config: o.config }),
  });
  const s = sender.stats();
  t.is(s.totals.payloadBytesSent, bytes);
  t.is(receiver.stats().totals.messagesReceived, 10_000);
  t.is(s.totals.messagesFailed, 0);
});

test.serial('the same under tight limits: small queues, a small write queue, late acks', async (t) => {
  let backPressured = 0;
  const { sender } = await runExchange(t, {
    seed: testSeed(),
    count: 3000,
    config:
      'maxQueuedMessages=16,maxQueuedBytes=256KiB,tcpWriteQueueBytes=64KiB,ackDelayMs=20,ackEveryPackets=64',
    create: async (o) => {
      const ep = await TcpEndpoint.create({ config: o.config });
      const trySend = ep.trySend.bind(ep);
      ep.trySend = (...args) => {
        const r = trySend(...args);
        if (r === 'BACK_PRESSURED') backPressured++;
        return r;
      };
      return ep;
    },
  });
  t.true(backPressured > 0, 'the limits were reached');
  t.is(sender.stats().totals.messagesFailed, 0);
  t.is(sender.memoryStats().liveMessages, 0, 'nothing left in flight');
});
