/**
 * Small helpers shared by the block device tests: deterministic data, byte comparison that stays
 * fast on megabytes (ava's deepEqual renders whole buffers), and error-code assertions.
 */
import type { ExecutionContext } from 'ava';

/** `length` bytes that depend on `seed` and position, so misplaced or mixed data shows up. */
export function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length + 3);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  return out.subarray(0, length);
}

/** Asserts that two byte arrays are equal; on failure names the first differing index. */
export function sameBytes(t: ExecutionContext, got: Uint8Array, want: Uint8Array, message = 'bytes'): void {
  const a = Buffer.from(got.buffer, got.byteOffset, got.length);
  const b = Buffer.from(want.buffer, want.byteOffset, want.length);
  if (a.equals(b)) {
    t.pass();
    return;
  }
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  t.fail(
    `${message}: lengths ${a.length}/${b.length}, first difference at index ${i} (got ${a[i]}, want ${b[i]})`,
  );
}

/** True when every byte is zero. */
export function isZero(buf: Uint8Array): boolean {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length).equals(Buffer.alloc(buf.length));
}

/** Asserts that `promise` rejects with a FerryError of `code`. */
export async function expectCode(
  t: ExecutionContext,
  promise: Promise<unknown>,
  code: string,
  message?: string,
): Promise<void> {
  const err = await t.throwsAsync(promise, undefined, message);
  t.is((err as { code?: string } | undefined)?.code, code, `${message ?? ''} ${err?.message ?? ''}`.trim());
}
