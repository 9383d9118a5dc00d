/**
 * fio with crc32c verification on real mounts, one per backend: random reads and writes whose every
 * block is checked after it is read back. The remote backend joins when RemoteFlatFs exists.
 */
import test from 'ava';
import { mountFerry, run, startFerryServer, type ServedMount } from '../helpers/fuse.js';

/**
 * Reads and writes over 64 MiB, every block verified (fio exits 1 on a mismatch): by default random
 * 4 KiB; `rw` and `bs` for other patterns.
 */
async function fioVerify(m: ServedMount, rw = 'randrw', bs = '4k'): Promise<void> {
  const r = await run('fio', [
    '--name=verify',
    `--directory=${m.mountpoint}`,
    '--size=64M',
    `--bs=${bs}`,
    `--rw=${rw}`,
    '--ioengine=psync',
    '--verify=crc32c',
    '--verify_state_save=0',
    '--verify_fatal=1',
    '--do_verify=1',
    '--output-format=json',
  ]);
  if (r.code !== 0) throw new Error(`fio failed (${r.code}): ${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  const job = (
    JSON.parse(r.stdout) as {
      jobs: Array<{ error: number; read: { io_bytes: number }; write: { io_bytes: number } }>;
    }
  ).jobs[0]!;
  if (job.error !== 0) throw new Error(`fio job error ${job.error}`);
  if (!(job.read.io_bytes > 0 && job.write.io_bytes > 0)) throw new Error('fio moved no data');
}

test('fio --verify=crc32c random read/write passes on the memory backend', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '256MiB'], 'fio-mem');
  await t.notThrowsAsync(fioVerify(m));
});

test('fio --verify=crc32c random read/write passes on the directory backend', async (t) => {
  const m = await mountFerry(t, (scratch) => ['--root', scratch], 'fio-dir');
  await t.notThrowsAsync(fioVerify(m));
});

test('fio --verify=crc32c random read/write passes on the remote backend (ferry serve over loopback)', async (t) => {
  const server = await startFerryServer(t, ['--memory', '--quota', '256MiB']);
  const m = await mountFerry(t, [server.url], 'fio-remote');
  await t.notThrowsAsync(fioVerify(m));
});

test('fio --verify=crc32c sequential read/write (128 KiB) passes on the remote backend with read-ahead (--cache full)', async (t) => {
  // sequential reads run from read-ahead windows while writes to the same file drop them
  const server = await startFerryServer(t, ['--memory', '--quota', '256MiB']);
  const m = await mountFerry(t, [server.url, '--cache', 'full'], 'fio-remote-seq');
  await t.notThrowsAsync(fioVerify(m, 'rw', '128k'));
});
