// The block device spec parser and factory: what `--blockdev NAME=memory:SIZE|NAME=file:PATH[:SIZE]`
// accepts, what it refuses, and that each spec opens the backend it names.
import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockDevice, parseBlockDeviceSpec } from '../../../src/blockdev/factory.js';
import { FileBlockDevice } from '../../../src/blockdev/file.js';
import { MemoryBlockDevice } from '../../../src/blockdev/memory.js';
import { GiB, MiB } from '../../../src/core/limits.js';

test('parseBlockDeviceSpec reads memory and file specs', (t) => {
  t.deepEqual(parseBlockDeviceSpec('memory:1GiB'), { kind: 'memory', sizeBytes: GiB, readOnly: false });
  t.deepEqual(parseBlockDeviceSpec('memory:4096', true), { kind: 'memory', sizeBytes: 4096, readOnly: true });
  t.deepEqual(parseBlockDeviceSpec('file:/tmp/d.img'), { kind: 'file', path: '/tmp/d.img', readOnly: false });
  t.deepEqual(parseBlockDeviceSpec('file:/tmp/d.img:8G'), {
    kind: 'file',
    path: '/tmp/d.img',
    sizeBytes: 8 * GiB,
    readOnly: false,
  });
  t.deepEqual(parseBlockDeviceSpec('file:/tmp/a:b.img'), {
    kind: 'file',
    path: '/tmp/a:b.img',
    readOnly: false,
  });
  t.deepEqual(parseBlockDeviceSpec('file:/dev/loop0'), { kind: 'file', path: '/dev/loop0', readOnly: false });
});

test('parseBlockDeviceSpec refuses bad specs with INVALID_ARGUMENT and a usage hint', (t) => {
  for (const text of [
    '',
    'memory',
    'memory:',
    'memory:0',
    'memory:lots',
    'file',
    'file:',
    'file::8G',
    'disk:1G',
  ]) {
    const err = t.throws(() => parseBlockDeviceSpec(text), undefined, text);
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT', text);
    t.regex(err!.message, /memory:SIZE/, text);
  }
});

test('openBlockDevice opens the backend a spec names; a file spec with a size creates the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-blockdev-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const mem = await openBlockDevice(parseBlockDeviceSpec('memory:1MiB'));
  t.true(mem instanceof MemoryBlockDevice);
  t.is(mem.sizeBytes, MiB);
  await mem.close();
  const path = join(dir, 'd.img');
  const file = await openBlockDevice(parseBlockDeviceSpec(`file:${path}:2MiB`));
  t.true(file instanceof FileBlockDevice);
  t.is((await stat(path)).size, 2 * MiB);
  await file.write(5, Buffer.from('x'));
  await file.close();
  const again = await openBlockDevice(parseBlockDeviceSpec(`file:${path}`, true));
  t.true(again.readOnly);
  t.is(again.sizeBytes, 2 * MiB);
  t.deepEqual(await again.read(5, 1), Buffer.from('x'));
  await again.close();
  const err = await t.throwsAsync(openBlockDevice(parseBlockDeviceSpec(`file:${join(dir, 'none.img')}`)));
  t.is((err as { code?: string }).code, 'NOT_FOUND');
});
