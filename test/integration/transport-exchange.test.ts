/**
 * The end-to-end exchange (helpers/exchange.ts: 10 000 messages of random sizes, exactly once,
 * intact, FIFO order kept) over each transport (UDP over both socket paths), without impairment and under tight limits. The
 * impaired runs are UDP's (impairment works on datagrams): transport-exchange-loss and -faults.
 */
import test from 'ava';
import { runExchange } from '../helpers/exchange.js';
import { testSeed } from '../helpers/seed.js';
import { testFor, TRANSPORT_CASES } from '../helpers/transport.js';

// One scenario at a time: they share two cores with everything else.
for (const { transport, socket, name } of TRANSPORT_CASES) {
  testFor(test.serial, socket)(
    `${name}: 10 000 messages of 0 B..1 MiB arrive exactly once, intact, FIFO in order — no impairment`,
    async (t) => {
      const { sender, receiver, bytes } = await runExchange(t, { seed: testSeed(), transport, socket });
      const s = sender.stats();
      t.is(s.dropped.badChecksum, 0);
      // UDP counts resent payload too (a busy loopback drops datagrams now and then); TCP never resends
      if (transport === 'udp') t.true(s.totals.payloadBytesSent >= bytes);
      else t.is(s.totals.payloadBytesSent, bytes);
      t.is(receiver.stats().totals.messagesReceived, 10_000);
      t.is(s.totals.messagesFailed, 0);
    },
  );

  testFor(test.serial, socket)(`${name}: the same under tight limits: small queues, late acks`, async (t) => {
    // TCP adds its own limit, the socket write queue
    const tcpOnly = transport === 'tcp' ? ',tcpWriteQueueBytes=64KiB' : '';
    const { sender, backPressured } = await runExchange(t, {
      seed: testSeed(),
      transport,
      socket,
      count: 3000,
      config: `maxQueuedMessages=16,maxQueuedBytes=256KiB,ackDelayMs=20,ackEveryPackets=64${tcpOnly}`,
    });
    t.true(backPressured > 0, 'the limits were reached');
    t.is(sender.stats().totals.messagesFailed, 0);
    t.is(sender.memoryStats().liveMessages, 0, 'nothing left in flight');
  });
}
