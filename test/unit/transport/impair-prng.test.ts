import test from 'ava';
import { Prng } from '../../../src/transport/impair/prng.js';

test('the generator is reproducible from its seed and differs between seeds', (t) => {
  const draw = (seed: number): number[] => {
    const p = new Prng(seed);
    return Array.from({ length: 64 }, () => p.nextUint32());
  };
  t.deepEqual(draw(1), draw(1));
  t.notDeepEqual(draw(1), draw(2));
  t.notDeepEqual(draw(0), draw(0xffffffff));
  t.true(draw(0).every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff));
});

test('floats are uniform on [0, 1) and nextInt stays in range', (t) => {
  const seed = 17;
  t.log(`seed ${seed}`);
  const p = new Prng(seed);
  const n = 100_000;
  const buckets = new Array<number>(10).fill(0);
  let sum = 0;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    const f = p.nextFloat();
    if (!(f >= 0 && f < 1)) outside++;
    sum += f;
    buckets[Math.floor(f * 10)]!++;
  }
  t.is(outside, 0);
  t.true(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
  // Each decile holds 10 % ± 5 standard deviations (sd = sqrt(n * 0.1 * 0.9) ≈ 95).
  t.true(
    buckets.every((b) => Math.abs(b - n / 10) < 5 * 95),
    buckets.join(' '),
  );
  for (let i = 0; i < 1000; i++) {
    const k = p.nextInt(7);
    t.true(Number.isInteger(k) && k >= 0 && k < 7);
  }
});
