/**
 * Seeded randomness for tests: a failing randomised test prints its seed, and FERRY_TEST_SEED reruns
 * it with the same one.
 */

/** mulberry32: small, seeded, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FERRY_TEST_SEED when it is a positive integer, else a fresh random seed. */
export function testSeed(): number {
  const fromEnv = Number(process.env.FERRY_TEST_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}
