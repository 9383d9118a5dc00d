import test from 'ava';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { FerryError, isFerryError } from '../../../src/core/errors.js';
import { InOrder, InOrderHasher } from '../../../src/transfer/in-order.js';
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

test('the hasher takes bytes at its cursor, reads back a gap, and matches xxhash64 of the whole', async (t) => {
  await initChecksums();
  const file = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff));
  const h = new InOrderHasher();
  t.true(h.offer(0, file.subarray(0, 10)));
  t.false(h.offer(30, file.subarray(30, 40)), 'bytes past the cursor are not hashed');
  t.is(h.cursor, 10);
  const reads: Array<[number, number]> = [];
  const read = async (offset: number, target: Buffer): Promise<number> => {
    reads.push([offset, target.length]);
    return file.copy(target, 0, offset, offset + target.length);
  };
  await h.readUpTo(40, read, Buffer.alloc(16), () => new FerryError('IO_ERROR', 'short'));
  t.deepEqual(reads, [
    [10, 16],
    [26, 14],
  ]);
  t.true(h.offer(40, file.subarray(40)));
  t.is(h.digest(), xxh64(file));
});

test("a short read back throws the caller's error and hashes nothing of it", async (t) => {
  await initChecksums();
  const h = new InOrderHasher();
  const err = await t.throwsAsync(
    h.readUpTo(
      8,
      async () => 3,
      Buffer.alloc(8),
      (offset) => new FerryError('IO_ERROR', `gone at ${offset}`),
    ),
  );
  t.true(isFerryError(err, 'IO_ERROR'));
  t.regex(err.message, /gone at 0/);
  t.is(h.cursor, 0);
});
