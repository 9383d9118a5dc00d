/**
 * fio with crc32c verification on real mounts, one per backend: random reads and writes whose every
 * block is checked after it is read back. The remote backend joins when RemoteFlatFs exists.
 */
import test from 'ava';
import { mountFerry, run, startFerryServer, type ServedMount } from '../helpers/fuse.js';

/** Random 4 KiB reads and writes over 64 MiB, every block verified (fio exits 1 on a mismatch). */
async function fioVerify(m: ServedMount): Promise<void> {
  const r = await run('fio', [
    '--name=verify',
    `--directory=${m.mountpoint}`,
    '--size=64M',
    '--bs=4k',
    '--rw=randrw',
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
