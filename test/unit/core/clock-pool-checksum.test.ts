import test from 'ava';
import { ManualClock } from '../../../src/core/clock.js';
import { BufferPool } from '../../../src/core/pool.js';
import { initChecksums, xxh32, xxh64, createXxh64, createXxh32 } from '../../../src/core/checksum.js';

test('ManualClock fires timers in time order and only when due', (t) => {
  const clock = new ManualClock(100);
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push('b'));
  clock.setTimer(10, () => {
    fired.push('a');
    clock.setTimer(5, () => fired.push('a2'));
  });
  const c = clock.setTimer(20, () => fired.push('cancelled'));
  clock.clearTimer(c);
  clock.advance(9);
  t.deepEqual(fired, []);
  clock.advance(100);
  t.deepEqual(fired, ['a', 'a2', 'b']);
  t.is(clock.nowMs(), 209);
  t.is(clock.pendingTimers, 0);
});

test('BufferPool hands out distinct buffers, returns null when empty, refuses double release', (t) => {
  const pool = new BufferPool(16, 2);
  const a = pool.acquire()!;
  const b = pool.acquire()!;
  t.is(a.length, 16);
  t.not(a.byteOffset, b.byteOffset);
  t.is(pool.acquire(), null);
  t.is(pool.used, 2);
  pool.release(a);
  t.is(pool.available, 1);
  t.throws(() => pool.release(a), { message: /twice/ });
  t.throws(() => pool.release(Buffer.alloc(16)), { message: /does not belong/ });
  const c = pool.acquire()!;
  t.is(c.byteOffset, a.byteOffset);
});

test('xxhash: known vectors and incremental equals one-shot', async (t) => {
  await initChecksums();
  // Reference values of the xxHash specification for the empty input.
  t.is(xxh32(new Uint8Array(0)), 0x02cc5d05);
  t.is(xxh64(new Uint8Array(0)), 0xef46db3751d8e999n);
  const data = Buffer.from('the quick brown fox jumps over the lazy dog');
  t.is(createXxh64().update(data.subarray(0, 7)).update(data.subarray(7)).digest(), xxh64(data));
  t.is(createXxh32(7).update(data.subarray(0, 3)).update(data.subarray(3)).digest() >>> 0, xxh32(data, 7));
});
