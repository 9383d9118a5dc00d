import test from 'ava';
import { systemClock } from '../../../src/core/clock.js';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import type { FileHandle } from '../../../src/flatfs/types.js';
import { OffsetUpload } from '../../../src/transfer/server/offset-upload.js';

const BLOCK_BYTES = 64 * 1024;

/** A memory flat FS whose reads wait until `release()`: a read back in flight, held there. */
class HeldReads extends MemoryFlatFs {
  private waiting: (() => void)[] = [];
  readsStarted = 0;
  override async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    this.readsStarted++;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.readInto(handle, offset, target);
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

test('a suspend while an early block is being read back for the file hash waits for it: no unhandled rejection, the upload stays resumable', async (t) => {
  await initChecksums();
  const fs = new HeldReads({ quotaBytes: 64 * 1024 * 1024 });
  const up = await OffsetUpload.begin(
    fs,
    {
      name: 'f.bin',
      fileMode: 0o600,
      sourceTag: 1n,
      resume: false,
      sizeBytes: 4 * BLOCK_BYTES,
      blockBytes: BLOCK_BYTES,
    },
    systemClock,
  );
  const block = (i: number): Buffer => Buffer.alloc(BLOCK_BYTES, i + 1);
  // block 1 arrives first (early), then block 0: the hash cursor reaches 1, which is read back
  await up.writeBlock(BLOCK_BYTES, xxh64(block(1)), block(1));
  await up.writeBlock(0, xxh64(block(0)), block(0));
  t.is(fs.readsStarted, 1, 'the early block is being read back');
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const suspended = up.suspend();
  await new Promise((r) => setTimeout(r, 20));
  fs.release();
  await suspended;
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(unhandled, []);
  const journal = (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
  t.true(
    journal.some((n) => n.includes('f.bin') && n.includes('journal')),
    `a journal is kept: ${journal.join(', ')}`,
  );
});
