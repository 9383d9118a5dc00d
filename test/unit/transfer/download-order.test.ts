/**
 * The server's download hash when reads complete out of order: the early blocks are read back once
 * when the hash cursor reaches them, never the rest of the file at close.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import type { FileHandle } from '../../../src/flatfs/types.js';
import { Download } from '../../../src/transfer/server/download.js';

const BLOCK = 4096;
const BLOCKS = 64;

/** A memory FlatFs whose reads of chosen offsets finish only when told to. */
class HeldReadsFs extends MemoryFlatFs {
  readonly held = new Map<number, () => void>();
  holdOffsets = new Set<number>();

  override async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    if (this.holdOffsets.delete(offset)) await new Promise<void>((r) => this.held.set(offset, r));
    return super.readInto(handle, offset, target);
  }
}

async function served(fs: HeldReadsFs, data: Buffer): Promise<Download> {
  const h = await fs.create('f', { sizeBytes: data.length });
  await fs.write(h, 0, data);
  await fs.closeFile(h);
  return Download.open(fs, 'f');
}

test.before(() => initChecksums());

test('reads completing out of order are hashed without re-reading the rest of the file', async (t) => {
  const fs = new HeldReadsFs({ quotaBytes: 1 << 24 });
  const data = randomBytes(BLOCK * BLOCKS);
  const dl = await served(fs, data);
  fs.holdOffsets.add(0); // the first read finishes last of its window
  const window: Array<Promise<number>> = [];
  for (let i = 0; i < 8; i++) window.push(dl.readInto(i * BLOCK, Buffer.alloc(BLOCK)));
  await new Promise((r) => setImmediate(r));
  fs.held.get(0)!();
  await Promise.all(window);
  for (let i = 8; i < BLOCKS; i++) await dl.readInto(i * BLOCK, Buffer.alloc(BLOCK));
  t.is(await dl.close(true), xxh64(data));
  t.is(dl.bytesServed, data.length);
  t.is(dl.bytesReread, 0, 'the reads that overtook the first are hashed from copies, not read again');
});

test('reads in order are never read twice', async (t) => {
  const fs = new HeldReadsFs({ quotaBytes: 1 << 24 });
  const data = randomBytes(BLOCK * BLOCKS + 100);
  const dl = await served(fs, data);
  for (let off = 0; off < data.length; off += BLOCK) {
    await dl.readInto(off, Buffer.alloc(Math.min(BLOCK, data.length - off)));
  }
  t.is(await dl.close(true), xxh64(data));
  t.is(dl.bytesReread, 0);
});

test('blocks a client never asked for are read once at close', async (t) => {
  const fs = new HeldReadsFs({ quotaBytes: 1 << 24 });
  const data = randomBytes(BLOCK * 8);
  const dl = await served(fs, data);
  await dl.readInto(0, Buffer.alloc(BLOCK));
  await dl.readInto(4 * BLOCK, Buffer.alloc(BLOCK));
  t.is(await dl.close(true), xxh64(data));
  t.is(dl.bytesReread, 7 * BLOCK);
});
