/**
 * Child process of flatfs-crash.test.ts (not a test itself): does durable work in a
 * DirectoryFlatFs, then unsynced work, prints READY and waits to be killed with SIGKILL.
 *
 * Usage: node --import tsx test/integration/flatfs-crash-child.ts ROOT
 */
import { GiB, KiB, MiB } from '../../src/core/limits.js';
import { DirectoryFlatFs } from '../../src/flatfs/directory.js';
import { HIDDEN_PREFIX } from '../../src/flatfs/types.js';
import { pattern } from '../unit/flatfs/pattern.js';

/** The child waits at most this long for its SIGKILL, so a broken parent cannot leave it behind. */
const MAX_WAIT_MS = 60_000;

async function main(root: string): Promise<void> {
  const fs = await DirectoryFlatFs.open({ root, quotaBytes: 8 * GiB });

  // Promised durable: written and fsynced (handle left open, as a crash would find it).
  const a = await fs.create('durable-a');
  await fs.write(a, 0, pattern(1 * MiB + 7, 1));
  await fs.fsync(a);

  // Promised durable: an upload under a hidden name, fsynced, then renamed into place.
  const up = await fs.create(`${HIDDEN_PREFIX}upload`);
  await fs.write(up, 0, pattern(512 * KiB, 2));
  await fs.fsync(up);
  await fs.closeFile(up);
  await fs.rename(`${HIDDEN_PREFIX}upload`, 'published');

  // Promised durable: a sparse write far out, fsynced.
  const s = await fs.create('sparse');
  await fs.write(s, 5 * GiB, pattern(4 * KiB, 3));
  await fs.fsync(s);

  // Durable prefix, then more data that was never fsynced.
  const b = await fs.create('durable-b');
  await fs.write(b, 0, pattern(100 * KiB, 4));
  await fs.fsync(b);
  await fs.write(b, 100 * KiB, pattern(200 * KiB, 5));
  const u = await fs.create('unsynced');
  await fs.write(u, 0, pattern(64 * KiB, 6));

  process.stdout.write('READY\n');
  setTimeout(() => process.exit(3), MAX_WAIT_MS);
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  process.stderr.write(`crash child failed: ${String(err)}\n`);
  process.exit(2);
});
