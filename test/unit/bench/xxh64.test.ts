import test from 'ava';
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { Xxh64, xxh64Range } from '../../../bench/lib/xxh64.js';

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
/** The seeds of the brief: zero, one, the largest 32-bit value, and one using all 64 bits. */
const SEEDS = [0n, 1n, 2n ** 32n - 1n, 0x9e3779b97f4a7c15n];

// The oracle: the wasm build of the reference C code.
let wasm: Awaited<ReturnType<typeof xxhash>>;
test.before(async () => {
  wasm = await xxhash();
});

test('xxh64: known vectors of the reference implementation', (t) => {
  const cases: [string, bigint, bigint][] = [
    ['', 0n, 0xef46db3751d8e999n],
    ['a', 0n, 0xd24ec4f1a98c6e5bn],
    ['abc', 0n, 0x44bc2cf5ad770999n],
  ];
  for (const [text, seed, want] of cases) {
    const data = Buffer.from(text);
    t.is(xxh64Range(data, 0, data.length, seed), want, `one-shot "${text}"`);
    t.is(new Xxh64(seed).update(data).digest(), want, `streaming "${text}"`);
    t.is(wasm.h64Raw(data, seed), want, `oracle "${text}"`);
  }
});

test('xxh64: every length 0..5000 equals xxhash-wasm, one-shot and streamed, at 32 alignments and 4 seeds', (t) => {
  const next = rng(SEED);
  const backing = randomBytes(next, 5000 + 32);
  const h = new Xxh64();
  for (let n = 0; n <= 5000; n++) {
    for (let s = 0; s < SEEDS.length; s++) {
      const seed = SEEDS[s]!;
      const align = (n * 7 + s) % 32;
      const want = wasm.h64Raw(backing.subarray(align, align + n), seed);
      if (xxh64Range(backing, align, align + n, seed) !== want)
        return t.fail(`one-shot n=${n} align=${align} seed=${seed} (FERRY_TEST_SEED=${SEED})`);
      if (
        h
          .reset(seed)
          .update(backing, align, align + n)
          .digest() !== want
      )
        return t.fail(`streamed n=${n} align=${align} seed=${seed} (FERRY_TEST_SEED=${SEED})`);
    }
  }
  t.pass();
});

test('xxh64: a 100-byte input cut at every pair of positions 0..40, and in equal pieces of 1..40 bytes', (t) => {
  const data = randomBytes(rng(SEED + 1), 100);
  const h = new Xxh64();
  for (const seed of SEEDS) {
    const want = wasm.h64Raw(data, seed);
    for (let a = 0; a <= 40; a++) {
      for (let b = a; b <= 40; b++) {
        const got = h.reset(seed).update(data, 0, a).update(data, a, b).update(data, b).digest();
        if (got !== want) return t.fail(`cuts ${a}, ${b} seed ${seed}`);
      }
    }
    for (let step = 1; step <= 40; step++) {
      h.reset(seed);
      for (let at = 0; at < data.length; at += step) h.update(data, at, Math.min(data.length, at + step));
      if (h.digest() !== want) return t.fail(`pieces of ${step} seed ${seed}`);
    }
  }
  t.pass();
});

test('xxh64: 1 MiB at random split points, pieces that are separate buffers at odd offsets', (t) => {
  const next = rng(SEED + 2);
  const big = randomBytes(next, 1 << 20);
  t.is(xxh64Range(big), wasm.h64Raw(big), `1 MiB one-shot (FERRY_TEST_SEED=${SEED})`);
  for (const seed of SEEDS) {
    const h = new Xxh64(seed);
    let at = 0;
    while (at < big.length) {
      const n = Math.min(big.length - at, Math.floor(next() * 70000));
      // a copy at an odd offset inside a larger buffer: the view is not aligned to anything
      const holder = Buffer.alloc(n + 7);
      big.copy(holder, 3, at, at + n);
      h.update(holder, 3, 3 + n);
      at += n;
    }
    t.is(h.digest(), wasm.h64Raw(big, seed), `1 MiB streamed, seed ${seed} (FERRY_TEST_SEED=${SEED})`);
  }
});

test('xxh64: property: any bytes, any 64-bit seed, any split points hash as xxhash-wasm does', (t) => {
  const h = new Xxh64();
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.array(fc.nat({ max: 600 }), { maxLength: 8 }),
      (data, seed, cuts) => {
        const bounds = [...cuts.map((c) => Math.min(c, data.length)), data.length].sort((a, b) => a - b);
        h.reset(seed);
        let at = 0;
        for (const b of bounds) {
          h.update(data, at, b);
          at = b;
        }
        const want = wasm.h64Raw(data, seed);
        return h.digest() === want && xxh64Range(data, 0, data.length, seed) === want;
      },
    ),
    { seed: SEED, numRuns: 2000 },
  );
  t.pass();
});

test('xxh64: the digest forms agree, digest leaves the state running, resetHalves equals reset', (t) => {
  const data = randomBytes(rng(SEED + 3), 3000);
  const seed = 0x0123456789abcdefn;
  const want = wasm.h64Raw(data, seed);
  const h = new Xxh64(seed).update(data, 0, 1000);
  t.is(h.digest(), wasm.h64Raw(data.subarray(0, 1000), seed), 'a digest midway');
  h.update(data, 1000);
  t.is(h.digest(), want, 'the digest did not disturb the state');
  t.is(h.digestHex(), want.toString(16).padStart(16, '0'));
  t.is((BigInt(h.hashHi) << 32n) | BigInt(h.hashLo), want);
  const out = Buffer.alloc(11);
  h.writeDigestLE(out, 3);
  t.is(out.readBigUInt64LE(3), want);
  t.true(h.matchesLE(out, 3));
  out[10]! ^= 1;
  t.false(h.matchesLE(out, 3));
  t.is(new Xxh64().resetHalves(0x01234567, 0x89abcdef).update(data).digest(), want);
  t.is(
    new Xxh64()
      .reset(seed + 2n ** 64n)
      .update(data)
      .digest(),
    want,
    'the seed is taken mod 2^64',
  );
  t.is(xxh64Range(Buffer.from('xxabcxx'), 2, 5), 0x44bc2cf5ad770999n, 'only the range is hashed');
});
