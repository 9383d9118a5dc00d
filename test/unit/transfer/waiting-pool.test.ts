import test from 'ava';
import { isFerryError } from '../../../src/core/errors.js';
import { WaitingPool } from '../../../src/transfer/waiting-pool.js';

test('hands out the same preallocated buffers, and waiters get them in arrival order', async (t) => {
  const pool = new WaitingPool(16, 2);
  const a = pool.tryAcquire()!;
  const b = pool.tryAcquire()!;
  t.is(a.length, 16);
  t.not(a, b);
  t.is(pool.tryAcquire(), null, 'empty: null, no allocation');
  const order: string[] = [];
  const first = pool.acquire().then((buf) => (order.push('first'), buf));
  const second = pool.acquire().then((buf) => (order.push('second'), buf));
  pool.release(a);
  t.is(await first, a, 'the released buffer itself goes to the longest waiter');
  pool.releaser(b)();
  t.is(await second, b);
  t.deepEqual(order, ['first', 'second']);
});

test('a buffer released twice, or one from elsewhere, is refused', (t) => {
  const pool = new WaitingPool(16, 1);
  const a = pool.tryAcquire()!;
  t.is(pool.releaser(a), pool.releaser(a), 'one release function per buffer, made once');
  pool.release(a);
  t.true(
    isFerryError(
      t.throws(() => pool.release(a)),
      'INTERNAL',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => pool.release(Buffer.alloc(16))),
      'INTERNAL',
    ),
  );
});

test('replace writes off a buffer still out and puts a fresh one in its place', async (t) => {
  const pool = new WaitingPool(16, 1);
  const a = pool.tryAcquire()!;
  const waiting = pool.acquire();
  pool.replace(a);
  const b = await waiting;
  t.not(b, a, 'the waiter gets the fresh buffer');
  t.is(b.length, 16);
  pool.release(a); // the late release of the written-off buffer is ignored
  t.is(pool.tryAcquire(), null, 'the written-off buffer did not come back');
  pool.release(b);
  t.is(pool.tryAcquire(), b);
});
