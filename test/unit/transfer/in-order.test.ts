import test from 'ava';
import { InOrder } from '../../../src/transfer/in-order.js';
import { WaitingPool } from '../../../src/transfer/waiting-pool.js';

const BLOCK = 4;

function block(i: number): Buffer {
  return Buffer.alloc(BLOCK, i + 1);
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

test('blocks arriving in any order are consumed once each, in offset order', async (t) => {
  const seen: number[] = [];
  const inOrder = new InOrder(new WaitingPool(BLOCK, 8), (data) => {
    seen.push(data[0]!);
  });
  for (const i of [2, 0, 3, 1, 5, 4]) await inOrder.offer(i * BLOCK, block(i));
  t.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  t.is(inOrder.cursor, 6 * BLOCK);
});

// A block that arrives early while the consumer is busy is left for the running drain. It must be
// taken whatever the microtask step it arrives at, including the step where the drain has just found
// nothing more to do but has not yet said it is idle.
test('an early block offered at any moment of a finishing drain is still consumed', async (t) => {
  for (let delay = 0; delay < 12; delay++) {
    const seen: number[] = [];
    let release!: () => void;
    const inOrder = new InOrder(new WaitingPool(BLOCK, 8), async (data) => {
      seen.push(data[0]!);
      if (data[0] === 1) await new Promise<void>((r) => (release = r));
    });
    const first = inOrder.offer(0, block(0)); // consumer busy on block 0
    const second = inOrder.offer(BLOCK, block(1)); // held until block 0 is done
    await ticks(1);
    release();
    await ticks(delay);
    const third = inOrder.offer(2 * BLOCK, block(2));
    await Promise.all([first, second, third]);
    t.deepEqual(seen, [1, 2, 3], `third block offered ${delay} microtasks after the release`);
    t.is(inOrder.cursor, 3 * BLOCK, `cursor after delay ${delay}`);
  }
});
