/**
 * Model-based randomized test: random operation sequences run against each backend and against
 * ModelFs (a Map of name -> Buffer) must give the same results and the same error codes, step by
 * step, and leave the same files behind. fast-check shrinks a failure to a short sequence; the
 * seed is printed, and FERRY_SEED=<seed> replays it.
 */
import test from 'ava';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KiB } from '../../../src/core/limits.js';
import { DirectoryFlatFs } from '../../../src/flatfs/directory.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { ReadAheadFlatFs } from '../../../src/fuse/read-ahead.js';
import type { FlatFs } from '../../../src/flatfs/types.js';
import { agreeWithModel, checkRandomSequences, type Op } from './model.js';

/** Small enough that random sequences hit NO_SPACE now and then. */
const QUOTA_BYTES = 512 * KiB;

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
    await agreeWithModel(fs, backend.name, QUOTA_BYTES, ops);
  } finally {
    await cleanup();
  }
}

for (const backend of BACKENDS) {
  test(`${backend.name}: random operation sequences agree with the model`, (t) =>
    checkRandomSequences(t, backend.runs, backend.maxOps, (ops) => agree(backend, ops)));
}
