// `ferry nbd` in front of a remote device: `ferry serve` (child) holds the device, `ferry nbd
// ferry://...` (child) exports it over NBD, real clients (children) use it. One chain serves all
// checks, because every process start costs seconds on a busy machine.
import { randomFillSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { spawnFerry } from '../helpers/cli.js';
import { run, startFerryNbd, tempDir } from './nbd-helpers.js';

const MiB = 1024 * 1024;

async function startServe(t: import('ava').ExecutionContext): Promise<number> {
  const child = spawnFerry([
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--memory',
    '--blockdev',
    'disk=memory:64MiB',
  ]);
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry serve did not start: ${out}`)), 60_000);
    const onData = (d: string): void => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`ferry serve exited (${code}): ${out}`)));
  });
}

test('a remote device through ferry nbd: nbdinfo, nbdcopy, qemu-img compare, fio verify', async (t) => {
  const dir = await tempDir(t);
  const port = await startServe(t);
  const sock = path.join(dir, 'r.sock');
  const nbd = await startFerryNbd(t, [`ferry://127.0.0.1:${port}/disk`, '--unix', sock]);

  const info = await run(t, 'nbdinfo', ['--json', nbd.uri]);
  t.is(info.code, 0, info.stderr);
  t.like((JSON.parse(info.stdout) as { exports: Record<string, unknown>[] }).exports[0], {
    'export-size': 64 * MiB,
    is_read_only: false,
    can_flush: true,
    can_fua: true,
  });

  const src = path.join(dir, 'src.bin');
  const back = path.join(dir, 'back.bin');
  const data = Buffer.alloc(64 * MiB);
  randomFillSync(data, 0, 40 * MiB); // the last 24 MiB stay zero
  await writeFile(src, data);
  const up = await run(t, 'nbdcopy', [src, nbd.uri]);
  t.is(up.code, 0, up.stderr);
  const down = await run(t, 'nbdcopy', [nbd.uri, back]);
  t.is(down.code, 0, down.stderr);
  t.is((await run(t, 'cmp', [src, back])).code, 0, 'nbdcopy round trip is identical');
  const cmp = await run(t, 'qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, nbd.uri]);
  t.is(cmp.code, 0, cmp.stdout + cmp.stderr);

  const fio = await run(t, 'fio', [
    '--name=remote',
    '--ioengine=nbd',
    `--uri=${nbd.uri}`,
    '--rw=randwrite',
    '--bsrange=4k-64k',
    '--iodepth=32',
    '--size=16M',
    '--verify=crc32c',
    '--verify_state_save=0',
    '--verify_fatal=1',
  ]);
  t.is(fio.code, 0, fio.stdout + fio.stderr);
  t.regex(fio.stdout, /err= 0/);

  process.kill(nbd.child.pid!, 'SIGTERM');
  t.is((await nbd.exited).code, 0, nbd.output());
});
