// `ferry nbd` (a child process) driven by real NBD clients, each a child process too: nbdinfo,
// qemu-nbd --list, nbdcopy, qemu-img convert/compare, fio with crc32c verification.
import { randomFillSync } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { run, startFerryNbd, tempDir } from './nbd-helpers.js';

const MiB = 1024 * 1024;
/** Bytes nbdcopy moves in and out (the issue asks for 1 GiB). FERRY_NBD_COPY_BYTES overrides. */
const COPY_BYTES = Number(process.env.FERRY_NBD_COPY_BYTES ?? 1024 * MiB);

/** Writes `bytes` of random data to `file`; with `holeEvery`, every n-th MiB stays a hole. */
async function randomFile(file: string, bytes: number, holeEvery = 0): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let at = 0; at < bytes; at += buf.length) {
      const n = Math.min(buf.length, bytes - at);
      randomFillSync(buf, 0, n);
      if (holeEvery > 0) {
        for (let m = 0; m < n; m += MiB)
          if (((at + m) / MiB) % holeEvery === 0) buf.fill(0, m, Math.min(n, m + MiB));
      }
      await fh.write(buf, 0, n, at);
    }
    await fh.truncate(bytes);
  } finally {
    await fh.close();
  }
}

test('nbdinfo --json shows the size, the flags and base:allocation', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const nbd = await startFerryNbd(t, ['--memory', '96MiB', '--unix', sock, '--export', 'disk']);
  const r = await run(t, 'nbdinfo', ['--json', nbd.uri]);
  t.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    protocol: string;
    structured: boolean;
    exports: Record<string, unknown>[];
  };
  t.is(info.protocol, 'newstyle-fixed');
  t.true(info.structured);
  const e = info.exports[0]!;
  t.like(e, {
    'export-name': 'disk',
    'export-size': 96 * MiB,
    is_read_only: false,
    can_flush: true,
    can_fua: true,
    can_trim: true,
    can_zero: true,
    can_df: true,
    can_multi_conn: true,
    can_cache: false,
    can_fast_zero: false,
    block_size_minimum: 1,
    block_size_preferred: 4096,
    block_size_maximum: 32 * MiB,
  });
  t.deepEqual(e.contexts, ['base:allocation']);
});

test('a read-only export: nbdinfo says read-only and no trim/zero/fua; writes fail', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const nbd = await startFerryNbd(t, ['--memory', '8MiB', '--unix', sock, '--read-only']);
  const r = await run(t, 'nbdinfo', ['--json', nbd.uri]);
  t.is(r.code, 0, r.stderr);
  const e = (JSON.parse(r.stdout) as { exports: Record<string, unknown>[] }).exports[0]!;
  t.like(e, { is_read_only: true, can_trim: false, can_zero: false, can_fua: false, can_flush: true });
  const src = path.join(dir, 'src.bin');
  await randomFile(src, 1 * MiB);
  const w = await run(t, 'nbdcopy', [src, nbd.uri]);
  t.not(w.code, 0, 'nbdcopy into a read-only export fails');
});

test('qemu-nbd --list lists the export', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  await startFerryNbd(t, ['--memory', '16MiB', '--unix', sock, '--export', 'vol0']);
  const r = await run(t, 'qemu-nbd', ['--list', '-k', sock]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /export: 'vol0'/);
  t.regex(r.stdout, /size:\s+16777216/);
  t.regex(r.stdout, /base:allocation/);
});

test(`nbdcopy ${COPY_BYTES} random bytes into the export and back out: identical`, async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const nbd = await startFerryNbd(t, ['--memory', String(COPY_BYTES), '--unix', sock]);
  const src = path.join(dir, 'src.bin');
  const back = path.join(dir, 'back.bin');
  await randomFile(src, COPY_BYTES);
  const started = Date.now();
  const up = await run(t, 'nbdcopy', [src, nbd.uri]);
  t.is(up.code, 0, up.stderr);
  const down = await run(t, 'nbdcopy', [nbd.uri, back]);
  t.is(down.code, 0, down.stderr);
  t.log(`nbdcopy in and out of ${COPY_BYTES} bytes: ${Date.now() - started} ms`);
  t.is((await stat(back)).size, COPY_BYTES);
  const cmp = await run(t, 'cmp', [src, back]);
  t.is(cmp.code, 0, cmp.stdout + cmp.stderr);
});

test('qemu-img convert into the export and back, qemu-img compare: identical (with holes)', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const size = 96 * MiB;
  const nbd = await startFerryNbd(t, ['--memory', String(size), '--unix', sock]);
  const src = path.join(dir, 'src.raw');
  const back = path.join(dir, 'back.raw');
  await randomFile(src, size, 3);
  const up = await run(t, 'qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, nbd.uri]);
  t.is(up.code, 0, up.stderr);
  const cmpExport = await run(t, 'qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, nbd.uri]);
  t.is(cmpExport.code, 0, cmpExport.stdout + cmpExport.stderr);
  const down = await run(t, 'qemu-img', ['convert', '-f', 'raw', '-O', 'raw', nbd.uri, back]);
  t.is(down.code, 0, down.stderr);
  const cmpBack = await run(t, 'qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, back]);
  t.is(cmpBack.code, 0, cmpBack.stdout + cmpBack.stderr);
  const map = await run(t, 'qemu-img', ['map', '--output=json', '-f', 'raw', nbd.uri]);
  t.is(map.code, 0, map.stderr);
  const extents = JSON.parse(map.stdout) as { data: boolean; zero: boolean }[];
  t.true(
    extents.some((e) => !e.data && e.zero),
    'the zeroed MiBs are reported as holes through base:allocation',
  );
});

test('fio --ioengine=nbd random read/write with verify=crc32c at iodepth 32 passes', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const nbd = await startFerryNbd(t, ['--memory', '64MiB', '--unix', sock]);
  const common = [
    '--ioengine=nbd',
    `--uri=${nbd.uri}`,
    '--iodepth=32',
    '--size=64M',
    '--verify=crc32c',
    '--verify_state_save=0',
    '--verify_fatal=1',
  ];
  const write = await run(t, 'fio', [
    '--name=w',
    ...common,
    '--rw=randwrite',
    '--bsrange=4k-128k',
    '--do_verify=1',
  ]);
  t.is(write.code, 0, write.stdout + write.stderr);
  t.regex(write.stdout, /err= 0/);
  const mixed = await run(t, 'fio', [
    '--name=rw',
    ...common,
    '--rw=randrw',
    '--bs=4k',
    '--verify_backlog=256',
    '--number_ios=8192',
  ]);
  t.is(mixed.code, 0, mixed.stdout + mixed.stderr);
  t.regex(mixed.stdout, /err= 0/);
  t.notRegex(mixed.stdout + mixed.stderr, /verify: bad/);
});
