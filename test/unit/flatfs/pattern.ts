/**
 * Test data for the flat filesystem tests, in a module of its own so that code outside ava (the
 * crash child process, replay scripts) can use it without loading the test runner.
 */

/** Deterministic bytes that differ by position and seed, so misplaced data is caught. */
export function pattern(lengthBytes: number, seed: number): Buffer {
  const b = Buffer.alloc(lengthBytes);
  for (let i = 0; i < lengthBytes; i++) b[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return b;
}
