/** Options of `ferry bench blockdev|fs`: defaults, smoke defaults, and every bound refused by name. */
import test from 'ava';
import { isFerryError } from '../../../src/index.js';
import { parseStorageOptions } from '../../../bench/storage/index.js';

test('defaults: memory backend, 256 MiB, 5 s per job, iodepth 16, one job, all jobs, fio psync', (t) => {
  const o = parseStorageOptions('fs', {});
  t.is(o.backend, 'memory');
  t.is(o.sizeBytes, 256 * 1024 * 1024);
  t.is(o.runtimeMs, 5000);
  t.is(o.iodepth, 16);
  t.is(o.numjobs, 1);
  t.deepEqual(
    o.jobs.map((j) => j.name),
    [
      'seqwrite-1m',
      'seqread-1m',
      'randwrite-4k',
      'randread-4k',
      'randrw-16k',
      'meta-create',
      'meta-stat',
      'meta-delete',
    ],
  );
  t.is(o.fioEngine, 'psync');
  t.true(o.fio && o.curve && o.copies);
  t.is(o.remote, null);
  t.false(parseStorageOptions('blockdev', {}).copies, 'copies are a filesystem job');
  t.is(parseStorageOptions('blockdev', {}).jobs.length, 5, 'no metadata jobs on a block device');
});

test('smoke is small and short; explicit values win over it', (t) => {
  const o = parseStorageOptions('blockdev', { smoke: true });
  t.is(o.sizeBytes, 8 * 1024 * 1024);
  t.is(o.runtimeMs, 300);
  t.is(parseStorageOptions('blockdev', { smoke: true, runtime: '2' }).runtimeMs, 2000);
});

test('runtime reads bare numbers as seconds (like fio) and accepts ms and s', (t) => {
  t.is(parseStorageOptions('blockdev', { runtime: '1.5' }).runtimeMs, 1500);
  t.is(parseStorageOptions('blockdev', { runtime: '250ms' }).runtimeMs, 250);
  t.is(parseStorageOptions('blockdev', { runtime: '3s' }).runtimeMs, 3000);
});

test('--remote is parsed; a block device address must name the device', (t) => {
  const o = parseStorageOptions('blockdev', { remote: 'ferry://127.0.0.1:7733/disk0' });
  t.like(o.remote, { host: '127.0.0.1', port: 7733, name: 'disk0' });
  t.like(parseStorageOptions('fs', { remote: 'ferry://[::1]:9000' }).remote, {
    host: '::1',
    port: 9000,
    name: null,
  });
});

test('--only keeps the canonical order', (t) => {
  const o = parseStorageOptions('fs', { job: 'meta-stat,seqread-1m' });
  t.deepEqual(
    o.jobs.map((j) => j.name),
    ['seqread-1m', 'meta-stat'],
  );
});

test('every bad value is INVALID_ARGUMENT with a message that names the fix', (t) => {
  const cases: [Parameters<typeof parseStorageOptions>, RegExp][] = [
    [['blockdev', { backend: 'dir' }], /--backend for blockdev must be memory or file/],
    [['fs', { backend: 'file' }], /--backend for fs must be memory or dir/],
    [['blockdev', { iodepth: '0' }], /--iodepth must be a whole number in 1\.\.256/],
    [['blockdev', { iodepth: '2.5' }], /--iodepth/],
    [['blockdev', { jobs: '65' }], /--jobs must be a whole number in 1\.\.64/],
    [['blockdev', { size: '12parsecs' }], /--size must be a size like 64MiB/],
    [['blockdev', { size: '1KiB' }], /--size .* between 1048576/],
    [['blockdev', { runtime: 'soon' }], /--runtime must be/],
    [['blockdev', { runtime: '10ms' }], /between 50 ms/],
    [['blockdev', { job: 'meta-create' }], /unknown job "meta-create": choose from seqwrite-1m/],
    [['blockdev', { remote: 'ferry://127.0.0.1:7733' }], /names the device: ferry:\/\/HOST:PORT\/DEVICE/],
    [['fs', { fioEngine: 'mmap' }], /--fio-engine must be psync or libaio/],
    [['fs', { files: '0' }], /--files must be a whole number/],
  ];
  for (const [args, message] of cases) {
    const err = t.throws(() => parseStorageOptions(...args));
    t.true(isFerryError(err, 'INVALID_ARGUMENT'), String(err));
    t.regex(err!.message, message);
  }
  t.true(
    isFerryError(
      t.throws(() => parseStorageOptions('fs', { remote: 'http://x' })),
      'BAD_URL',
    ),
  );
});
