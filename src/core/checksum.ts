/**
 * xxhash32 (packet checksums) and xxhash64 (block and whole-file hashes) from xxhash-wasm,
 * initialised once per process. Call `await initChecksums()` at start-up (Endpoint.create and the
 * CLI do); afterwards every function here is synchronous.
 *
 * xxhash64 stays on wasm although the binding copies each input into wasm memory: the copy runs at
 * 10-40 GB/s, while a pure TypeScript xxh64 (bench/lib/xxh64.ts, measured by bench/hash.ts) hashes at 0.1-0.3x
 * the wasm speed, because JavaScript has no 64x64-bit multiply outside BigInt.
 */
import xxhash from 'xxhash-wasm';
import { FerryError } from './errors.js';

type Api = Awaited<ReturnType<typeof xxhash>>;

let api: Api | null = null;
let loading: Promise<Api> | null = null;

/** Loads the wasm module once; later calls return the same promise. */
export async function initChecksums(): Promise<void> {
  if (api) return;
  loading ??= xxhash();
  api = await loading;
}

function ready(): Api {
  if (!api) throw new FerryError('NOT_INITIALIZED');
  return api;
}

/** xxhash32 of `data` with `seed`. */
export function xxh32(data: Uint8Array, seed = 0): number {
  return ready().h32Raw(data, seed) >>> 0;
}

/** xxhash64 of `data` with `seed`, as a bigint. */
export function xxh64(data: Uint8Array, seed = 0n): bigint {
  return ready().h64Raw(data, seed);
}

/** Incremental xxhash64 for data that arrives in pieces (whole-file hashes). */
export interface Hasher64 {
  update(data: Uint8Array): Hasher64;
  digest(): bigint;
}

export function createXxh64(seed = 0n): Hasher64 {
  return ready().create64(seed);
}

/** Incremental xxhash32 (a header and a payload hashed without concatenating them). */
export interface Hasher32 {
  update(data: Uint8Array): Hasher32;
  digest(): number;
}

export function createXxh32(seed = 0): Hasher32 {
  return ready().create32(seed);
}
