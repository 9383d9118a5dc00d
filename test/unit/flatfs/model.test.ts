/**
 * Model-based randomized test: random operation sequences run against each backend and against
 * ModelFs (a Map of name -> Buffer) must give the same results and the same error codes, step by
 * step, and leave the same files behind. fast-check shrinks a failure to a short sequence; the
 * seed is printed, and FERRY_SEED=<seed> replays it.
 */
import test from 'ava';
import fc from 'fast-check';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KiB } from '../../../src/core/limits.js';
import { DirectoryFlatFs } from '../../../src/flatfs/directory.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { ReadAheadFlatFs } from '../../../src/fuse/read-ahead.js';
import type { FlatFs } from '../../../src/flatfs/types.js';
import {
  LIST_PREFIXES,
  MODEL_NAMES,
  ModelFs,
  applyReal,
  describeOutcome,
  opArb,
  type Op,
  type Outcome,
} from './model.js';

/** Small enough that random sequences hit NO_SPACE now and then. */
const QUOTA_BYTES = 512 * KiB;
const FINAL_READ_BYTES = 1024 * KiB;

interface Backend {
  name: string;
  runs: number;
  maxOps: number;
  make(): Promise<{ fs: FlatFs; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    runs: 300,
    maxOps: 50,
    async make() {
      const fs = new MemoryFlatFs({ quotaBytes: QUOTA_BYTES });
      return { fs, cleanup: () => fs.close() };
    },
  },
  {
    // the mount's read-ahead (src/fuse/read-ahead.ts) over memory, with windows small enough that
    // random sequences read from them, fetch past the end and see them dropped by changes
    name: 'read-ahead over memory',
    runs: 200,
    maxOps: 50,
    async make() {
      const fs = new ReadAheadFlatFs(new MemoryFlatFs({ quotaBytes: QUOTA_BYTES }), 64, 64 * 4);
      return { fs, cleanup: () => fs.close() };
    },
  },
  {
    name: 'directory',
    runs: 60,
    maxOps: 40,
    async make() {
      const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-flatfs-model-'));
      const fs = await DirectoryFlatFs.open({ root, quotaBytes: QUOTA_BYTES });
      return {
        fs,
        cleanup: async () => {
          await fs.close();
          await fsp.rm(root, { recursive: true, force: true });
        },
      };
    },
  },
];

async function agree(backend: Backend, ops: Op[]): Promise<void> {
  const { fs, cleanup } = await backend.make();
  try {
    const model = new ModelFs(QUOTA_BYTES);
    const handles: number[] = [];
    const check = async (op: Op, step: number): Promise<Outcome> => {
      const expected = model.apply(op);
      const actual = await applyReal(fs, handles, op);
      if (JSON.stringify(actual) === JSON.stringify(expected)) return expected;
      throw new Error(
        `step ${step} ${JSON.stringify(op)}: ${backend.name} gave ${describeOutcome(actual)}, model ${describeOutcome(expected)}`,
      );
    };
    for (const [step, op] of ops.entries()) await check(op, step);
    // Then every file, read whole through a fresh handle, and the listing, must agree too.
    await check({ kind: 'list', includeHidden: true }, -1);
    await check({ kind: 'statfs' }, -1);
    // Every prefix, with and without a delimiter, walked in pages of 2 along the model's cursors.
    for (const prefix of LIST_PREFIXES) {
      for (const delimited of [false, true]) {
        let cursor: string | null = null;
        do {
          const op: Op = { kind: 'list', includeHidden: true, prefix, delimited, cursor, limit: 2 };
          const page = await check(op, -1);
          cursor = page.ok ? ((page.value as [unknown, string | null])[1] ?? null) : null;
        } while (cursor !== null);
      }
    }
    for (const name of MODEL_NAMES) {
      await check({ kind: 'open', name, write: false }, -1);
      const handle = model.handleCount - 1;
      await check({ kind: 'read', handle, offset: 0, lengthBytes: FINAL_READ_BYTES }, -1);
    }
  } finally {
    await cleanup();
  }
}

for (const backend of BACKENDS) {
  test(`${backend.name}: random operation sequences agree with the model`, async (t) => {
    const seed = Number(process.env['FERRY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    t.log(`seed ${seed} (replay with FERRY_SEED=${seed})`);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: backend.maxOps }), (ops) =>
          agree(backend, ops),
        ),
        { seed, numRuns: backend.runs },
      );
      t.pass();
    } catch (err) {
      const cause =
        (err as Error).cause instanceof Error ? `\n${((err as Error).cause as Error).message}` : '';
      t.fail(`seed ${seed} (replay with FERRY_SEED=${seed}):\n${(err as Error).message}${cause}`);
    }
  });
}
