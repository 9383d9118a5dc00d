import test from 'ava';
import { runExchange } from '../helpers/exchange.js';
import { testSeed } from '../helpers/seed.js';
import { SOCKETS, testFor } from '../helpers/transport.js';

for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : `${socket} socket: `;

  testFor(test.serial, socket)(
    on + '10 000 messages arrive exactly once under 5 % duplication',
    async (t) => {
      const { receiver } = await runExchange(t, { seed: testSeed(), socket, impair: 'dup=0.05' });
      t.true(receiver.impairmentStats()!.duplicated > 0);
      // a duplicated datagram is dropped by the replay window of a sealed session (dropped.replayed)
      // before it reaches the session's duplicate check (totals.duplicates, which still counts
      // messages that came again in a retransmission under a new packet number)
      const s = receiver.stats();
      t.true(s.totals.duplicates + s.dropped.replayed > 0, 'duplicates were seen and suppressed');
    },
  );

  testFor(test.serial, socket)(
    on + '10 000 messages arrive exactly once and in FIFO order under 5 % reordering',
    async (t) => {
      const { receiver } = await runExchange(t, { seed: testSeed(), socket, impair: 'reorder=0.05' });
      t.true(receiver.impairmentStats()!.reordered > 0);
    },
  );

  testFor(test.serial, socket)(on + '10 000 messages arrive intact under 1 % corruption', async (t) => {
    const { receiver } = await runExchange(t, { seed: testSeed(), socket, impair: 'corrupt=0.01' });
    t.true(receiver.impairmentStats()!.corrupted > 0);
    const d = receiver.stats().dropped;
    t.true(
      d.badSeal + d.badChecksum > 0,
      'corrupted datagrams were caught by the AEAD tag (or the checksum)',
    );
  });

  testFor(test.serial, socket)(
    on + '10 000 messages arrive exactly once under 20 ms ± 10 ms delay',
    async (t) => {
      await runExchange(t, { seed: testSeed(), socket, impair: 'delayMs=20,jitterMs=10' });
    },
  );
}
