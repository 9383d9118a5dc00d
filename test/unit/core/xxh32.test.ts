import test from 'ava';
import { initChecksums, xxh32 } from '../../../src/core/checksum.js';
import { Xxh32, xxh32Range } from '../../../src/core/xxh32.js';

/** Small seeded generator (mulberry32): the same seed gives the same inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomBytes(next: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
  return b;
}

const SEED = Number(process.env.FERRY_TEST_SEED ?? Date.now() % 2 ** 31);

test.before(async () => {
  await initChecksums();
});

test('xxh32: known vectors of the reference implementation', (t) => {
  const cases: [string, number, number][] = [
    ['', 0, 0x02cc5d05],
    ['a', 0, 0x550d7456],
    ['abc', 0, 0x32d153ff],
    ['Nobody inspects the spammish repetition', 0, 0xe2293b2f],
    ['', 0x9e3779b1, 0x36b78ae7],
    ['abc', 0x9e3779b1, 0xa1ae7709],
  ];
  for (const [text, seed, want] of cases) {
    const data = Buffer.from(text);
    t.is(xxh32Range(data, 0, data.length, seed), want, `one-shot "${text}" seed ${seed}`);
    t.is(new Xxh32(seed).update(data).digest(), want, `streaming "${text}" seed ${seed}`);
  }
});

test('xxh32: lengths 0..5000 equal xxhash-wasm, one-shot and streamed, at every start alignment', (t) => {
  const next = rng(SEED);
  const h = new Xxh32();
  const backing = randomBytes(next, 5000 + 16);
  for (let n = 0; n <= 5000; n += n < 64 ? 1 : 37) {
    const align = n % 16;
    const data = backing.subarray(align, align + n);
    const seed = n % 3 === 0 ? 0 : Math.floor(next() * 2 ** 32);
    const want = xxh32(data, seed);
    if (xxh32Range(data, 0, n, seed) !== want) return t.fail(`one-shot n=${n} seed=${SEED}`);
    if (h.reset(seed).update(data).digest() !== want) return t.fail(`streamed n=${n} seed=${SEED}`);
  }
  t.pass();
});

test('xxh32: a sequence of pieces hashes as their concatenation (boundaries at every alignment 0..15, empty pieces)', (t) => {
  const next = rng(SEED + 1);
  const h = new Xxh32();
  for (let round = 0; round < 400; round++) {
    const total = Math.floor(next() * 600);
    const data = randomBytes(next, total);
    const seed = Math.floor(next() * 2 ** 32);
    const want = xxh32(data, seed);
    // the first boundary sweeps 0..15 so a stripe is split at every offset; then random cuts, some empty
    h.reset(seed);
    let at = 0;
    let first = true;
    while (at < total) {
      const step = first ? round % 16 : Math.floor(next() * 40) - 5;
      first = false;
      const end = Math.min(total, at + Math.max(0, step));
      h.update(data, at, end); // step <= 0 gives an empty piece
      if (step <= 0) h.update(new Uint8Array(0));
      at = end;
    }
    const got = h.digest();
    if (got !== want)
      return t.fail(`round ${round} length ${total}: ${got} != ${want} (FERRY_TEST_SEED=${SEED})`);
  }
  t.pass();
});

test('xxh32: pieces that are separate buffers at odd offsets, and 1 MiB in uneven pieces', (t) => {
  const next = rng(SEED + 2);
  const big = randomBytes(next, 1 << 20);
  t.is(xxh32Range(big), xxh32(big), `1 MiB one-shot (FERRY_TEST_SEED=${SEED})`);
  const h = new Xxh32(0x1234);
  let at = 0;
  while (at < big.length) {
    const n = Math.min(big.length - at, 1 + Math.floor(next() * 3000));
    // a copy at an odd offset inside a larger buffer: the view is not aligned to anything
    const holder = Buffer.alloc(n + 7);
    big.copy(holder, 3, at, at + n);
    h.update(holder.subarray(3, 3 + n));
    at += n;
  }
  t.is(h.digest(), xxh32(big, 0x1234), `1 MiB streamed (FERRY_TEST_SEED=${SEED})`);
});

test('xxh32: a range inside a buffer hashes only that range', (t) => {
  const data = Buffer.from('xxabcxx');
  t.is(xxh32Range(data, 2, 5), 0x32d153ff);
  t.is(new Xxh32().update(data, 2, 5).digest(), 0x32d153ff);
});
