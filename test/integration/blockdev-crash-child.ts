/**
 * Child process of blockdev-crash.test.ts (not a test itself): opens a FileBlockDevice, makes some
 * changes durable with flush(), makes more without flushing, says "ready" and waits to be killed.
 *
 * Layout of the device (CRASH_* constants are shared with the parent):
 *   [0, 1 MiB)          pattern seed 1, flushed
 *   [1 MiB, 3 MiB)      pattern seed 2 written, then trimmed (hole punched), flushed: zeros
 *   [3 MiB, 3 MiB+777)  pattern seed 3, flushed (unaligned tail)
 *   [4 MiB, 5 MiB)      pattern seed 4, NOT flushed
 */
import { FileBlockDevice } from '../../src/blockdev/file.js';
import { pattern } from '../unit/blockdev/util.js';
import { CRASH } from './blockdev-crash-layout.js';

const path = process.argv[2];
if (!path) throw new Error('usage: blockdev-crash-child.ts PATH');

const dev = await FileBlockDevice.open(path, { sizeBytes: CRASH.sizeBytes, create: true });
await dev.write(0, pattern(CRASH.MiB, 1));
await dev.write(CRASH.MiB, pattern(2 * CRASH.MiB, 2));
await dev.trim(CRASH.MiB, 2 * CRASH.MiB);
await dev.write(3 * CRASH.MiB, pattern(777, 3));
await dev.flush();
await dev.write(4 * CRASH.MiB, pattern(CRASH.MiB, 4));
process.stdout.write('ready\n');
// Wait to be killed; leave on our own after a bound so a lost parent never leaks this process.
setTimeout(() => process.exit(3), CRASH.childLifetimeMs);
