/**
 * Micro-benchmark of the xxhash64 behind block and whole-file hashes: xxhash-wasm (copies each input
 * into wasm memory) against the pure TypeScript `Xxh64` (reads the bytes where they lie), on the
 * sizes the transfer engine hashes: one 1452-byte datagram payload, one 64 KiB block, a 1 MiB buffer,
 * and a 1 MiB stream fed in 1452-byte and 64 KiB pieces. A raw baseline in the same run: the copy
 * alone (`Uint8Array.set` of the same bytes), i.e. what the wasm binding pays before hashing.
 *
 * The implementations alternate within each round (the machine may be shared and its load changes);
 * each figure is the median over rounds. Prints a table, then the figures as JSON.
 *
 *   npx tsx bench/hash.ts [--rounds 7] [--mib 32]
 */
import xxhash from 'xxhash-wasm';
import { parseArgs } from 'node:util';
import { Xxh64, xxh64Range } from './lib/xxh64.js';

interface Case {
  name: string;
  /** Bytes hashed per call of `run`. */
  sizeBytes: number;
  impls: Record<string, () => bigint>;
}

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, mib: { type: 'string', default: '32' } },
});
const rounds = Number(values.rounds);
const bytesPerSample = Number(values.mib) * 2 ** 20;

const api = await xxhash();
const PIECE_BYTES = 1452;
const BLOCK_BYTES = 64 * 1024;
const BIG_BYTES = 1024 * 1024;

// An odd byte offset inside the backing buffer, as payload slices of received datagrams have.
const backing = new Uint8Array(BIG_BYTES + 64);
for (let i = 0; i < backing.length; i++) backing[i] = (Math.imul(i, 0x9e3779b1) >>> 13) & 0xff;
const data = backing.subarray(3, 3 + BIG_BYTES);
const scratch = new Uint8Array(BIG_BYTES);

function oneShot(sizeBytes: number): Case['impls'] {
  const piece = data.subarray(0, sizeBytes);
  return {
    wasm: () => api.h64Raw(piece),
    ts: () => xxh64Range(data, 0, sizeBytes),
    copy: () => {
      scratch.set(piece);
      return BigInt(scratch[0]!);
    },
  };
}

function streamed(pieceBytes: number): Case['impls'] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < BIG_BYTES; at += pieceBytes) pieces.push(data.subarray(at, at + pieceBytes));
  const ts = new Xxh64();
  return {
    wasm: () => {
      const h = api.create64();
      for (const p of pieces) h.update(p);
      return h.digest();
    },
    ts: () => {
      ts.reset();
      for (let at = 0; at < BIG_BYTES; at += pieceBytes)
        ts.update(data, at, Math.min(BIG_BYTES, at + pieceBytes));
      return ts.digest();
    },
    copy: () => {
      let at = 0;
      for (const p of pieces) {
        scratch.set(p, at);
        at += p.length;
      }
      return BigInt(scratch[0]!);
    },
  };
}

const cases: Case[] = [
  { name: 'one-shot 1452 B', sizeBytes: PIECE_BYTES, impls: oneShot(PIECE_BYTES) },
  { name: 'one-shot 64 KiB', sizeBytes: BLOCK_BYTES, impls: oneShot(BLOCK_BYTES) },
  { name: 'one-shot 1 MiB', sizeBytes: BIG_BYTES, impls: oneShot(BIG_BYTES) },
  { name: 'stream 1 MiB in 1452 B pieces', sizeBytes: BIG_BYTES, impls: streamed(PIECE_BYTES) },
  { name: 'stream 1 MiB in 64 KiB pieces', sizeBytes: BIG_BYTES, impls: streamed(BLOCK_BYTES) },
];

/** MB/s (10^6 bytes per second) of one sample: `run` repeated until `bytesPerSample` bytes. */
function sample(run: () => bigint, sizeBytes: number): { mbPerSec: number; sink: bigint } {
  const calls = Math.max(1, Math.round(bytesPerSample / sizeBytes));
  let sink = 0n;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < calls; k++) sink ^= run();
  const ns = Number(process.hrtime.bigint() - t0);
  return { mbPerSec: (calls * sizeBytes * 1e3) / ns, sink };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const results: { case: string; impl: string; medianMBps: number; samplesMBps: number[] }[] = [];
for (const c of cases) {
  // the two hashes must agree before their speed means anything
  if (c.impls.wasm!() !== c.impls.ts!()) throw new Error(`${c.name}: the implementations disagree`);
  const names = Object.keys(c.impls);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) sample(c.impls[n]!, c.sizeBytes); // warm-up (JIT)
  for (let r = 0; r < rounds; r++) {
    // alternate the order too, so neither always runs first after the other
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) samples[n]!.push(sample(c.impls[n]!, c.sizeBytes).mbPerSec);
  }
  for (const n of names)
    results.push({
      case: c.name,
      impl: n,
      medianMBps: Math.round(median(samples[n]!)),
      samplesMBps: samples[n]!.map(Math.round),
    });
}

console.log(`xxhash64 MB/s, median of ${rounds} rounds of ${values.mib} MiB each`);
console.log(
  'case'.padEnd(32) + 'wasm'.padStart(8) + 'ts'.padStart(8) + 'ts/wasm'.padStart(9) + 'copy'.padStart(8),
);
for (const c of cases) {
  const of = (impl: string) => results.find((r) => r.case === c.name && r.impl === impl)!.medianMBps;
  console.log(
    c.name.padEnd(32) +
      String(of('wasm')).padStart(8) +
      String(of('ts')).padStart(8) +
      (of('ts') / of('wasm')).toFixed(2).padStart(9) +
      String(of('copy')).padStart(8),
  );
}
console.log(JSON.stringify({ rounds, mibPerSample: Number(values.mib), results }));
