/**
 * The end-to-end exchange (helpers/exchange.ts) over UDP under datagram loss; the run without
 * impairment, for both transports, is in transport-exchange.test.ts.
 */
import test from 'ava';
import { runExchange } from '../helpers/exchange.js';
import { testSeed } from '../helpers/seed.js';
import { SOCKETS, testFor } from '../helpers/transport.js';

// One scenario at a time: they share two cores with everything else.
for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : `${socket} socket: `;
  for (const loss of [0.01, 0.05, 0.2]) {
    testFor(test.serial, socket)(
      `${on}10 000 messages arrive exactly once, intact, FIFO in order under ${loss * 100} % loss on both directions`,
      async (t) => {
        const { sender, receiver } = await runExchange(t, {
          seed: testSeed(),
          socket,
          impair: `loss=${loss}`,
        });
        t.true(receiver.impairmentStats()!.droppedLoss > 0, 'the impairment really dropped datagrams');
        t.true(sender.stats().totals.retransmits > 0, 'and the sender repaired them');
      },
    );
  }
}
