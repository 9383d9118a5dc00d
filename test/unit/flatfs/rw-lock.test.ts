/**
 * RwLock: shared holders overlap, an exclusive holder is alone, and grants are first come, first
 * served (a waiting exclusive holder is not starved by later shared ones).
 */
import test from 'ava';
import { RwLock } from '../../../src/flatfs/rw-lock.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('shared holders run together; exclusive waits for them and runs alone', async (t) => {
  const lock = new RwLock();
  const log: string[] = [];
  const gate = deferred();
  const s1 = lock.shared(async () => {
    log.push('s1 start');
    await gate.promise;
    log.push('s1 end');
  });
  const s2 = lock.shared(async () => {
    log.push('s2 start');
    await gate.promise;
    log.push('s2 end');
  });
  const x = lock.exclusive(async () => {
    log.push('x');
  });
  const s3 = lock.shared(async () => {
    log.push('s3');
  });
  await new Promise((r) => setImmediate(r));
  t.deepEqual(log, ['s1 start', 's2 start'], 'the exclusive holder and the shared one queued behind it wait');
  gate.resolve();
  await Promise.all([s1, s2, x, s3]);
  t.deepEqual(log, ['s1 start', 's2 start', 's1 end', 's2 end', 'x', 's3']);
});

test('a failing holder releases the lock', async (t) => {
  const lock = new RwLock();
  await t.throwsAsync(
    lock.exclusive(async () => Promise.reject(new Error('boom'))),
    { message: 'boom' },
  );
  t.is(await lock.exclusive(async () => 42), 42);
  await t.throwsAsync(
    lock.shared(async () => Promise.reject(new Error('again'))),
    { message: 'again' },
  );
  t.is(await lock.exclusive(async () => 43), 43);
});

test('exclusive holders never overlap', async (t) => {
  const lock = new RwLock();
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 3 === 0 ? lock.shared.bind(lock) : lock.exclusive.bind(lock))(async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setImmediate(r));
        inside--;
      }),
    ),
  );
  t.is(inside, 0);
  t.is(maxInside, 1, 'no shared holder overlaps an exclusive one here: they alternate in arrival order');
});
