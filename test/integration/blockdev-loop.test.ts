// The file block device on a real block device node: a loop device over a temp file. Checks the size
// read from sysfs, I/O through the node, zeroing (device nodes write zeros, they are never punched),
// read-only opening, and that a size that does not match the device is refused. Needs root and
// loop devices; where `losetup` cannot attach one, the test is registered as skipped, saying why.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockDevice } from '../../src/blockdev/file.js';
import { MiB } from '../../src/core/limits.js';
import { expectCode, isZero, pattern, sameBytes } from '../unit/blockdev/util.js';

const DEVICE_BYTES = 4 * MiB;

function loopAvailable(): boolean {
  try {
    execFileSync('losetup', ['--find'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

const title = 'file blockdev: serves a block device node (loop device) with its size from sysfs';
const register = loopAvailable() ? test : test.skip;
if (register === test.skip)
  console.log('blockdev-loop: losetup cannot attach a loop device here (needs root); skipped');

register(title, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-blockdev-loop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const backing = join(dir, 'backing.img');
  await writeFile(backing, Buffer.alloc(0));
  await truncate(backing, DEVICE_BYTES);
  const loop = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  t.teardown(() => {
    execFileSync('losetup', ['--detach', loop]);
  });

  const dev = await FileBlockDevice.open(loop);
  t.teardown(async () => {
    if (!dev.closed) await dev.close();
  });
  t.is(dev.kind, 'device');
  t.is(dev.sizeBytes, DEVICE_BYTES);
  t.true(dev.blockBytes >= 512);

  const data = pattern(DEVICE_BYTES, 21);
  await dev.write(0, data);
  await dev.writeZeroes(MiB + 5, 2 * MiB);
  await dev.flush();
  const expected = Buffer.from(data);
  expected.fill(0, MiB + 5, 3 * MiB + 5);
  sameBytes(t, await dev.read(0, DEVICE_BYTES), expected, 'device content');
  t.true(isZero(await dev.read(MiB + 5, 2 * MiB)));
  await dev.close();
  sameBytes(t, await readFile(backing), expected, 'the backing file holds what was flushed');

  await expectCode(t, FileBlockDevice.open(loop, { sizeBytes: DEVICE_BYTES + 512 }), 'INVALID_ARGUMENT');
  const ro = await FileBlockDevice.open(loop, { readOnly: true });
  t.teardown(async () => {
    if (!ro.closed) await ro.close();
  });
  await expectCode(t, ro.write(0, Buffer.from([1])), 'READ_ONLY');
  sameBytes(t, await ro.read(0, 4096), expected.subarray(0, 4096));
});
