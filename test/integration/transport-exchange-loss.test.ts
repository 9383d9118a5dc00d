import test from 'ava';
import { runExchange, testSeed } from './transport-exchange.js';

// One scenario at a time: they share two cores with everything else.
test.serial(
  '10 000 messages of 0 B..1 MiB arrive exactly once, intact, FIFO in order — no impairment',
  async (t) => {
    const { sender } = await runExchange(t, { seed: testSeed() });
    t.is(sender.stats().dropped.badChecksum, 0);
  },
);

for (const loss of [0.01, 0.05, 0.2]) {
  test.serial(`the same under ${loss * 100} % loss on both directions`, async (t) => {
    const { sender, receiver } = await runExchange(t, { seed: testSeed(), impair: `loss=${loss}` });
    t.true(receiver.impairmentStats()!.droppedLoss > 0, 'the impairment really dropped datagrams');
    t.true(sender.stats().totals.retransmits > 0, 'and the sender repaired them');
  });
}
