// Crash honesty of the file block device: a child process writes, flushes, writes more without
// flushing, and is killed with SIGKILL; reopened, the device must hold everything that was flushed
// (writes and a trim). Unflushed data may or may not be there: only the flushed part is asserted.
// A process kill leaves the kernel's page cache intact, so this proves that flush() waits for every
// earlier write and trim to reach the kernel; durability across a power cut rests on fsync (flush).
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileBlockDevice } from '../../src/blockdev/file.js';
import { isZero, pattern, sameBytes } from '../unit/blockdev/util.js';
import { CRASH } from './blockdev-crash-layout.js';

const CHILD = fileURLToPath(new URL('./blockdev-crash-child.ts', import.meta.url));
const M = CRASH.MiB;

test('file blockdev: flushed writes and trims survive SIGKILL of the writing process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-blockdev-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'disk.img');

  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );

  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), CRASH.readyTimeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve(true);
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  t.true(ready, `child never became ready; stderr: ${stderr}`);
  if (!ready) return;
  t.true(child.kill('SIGKILL'));
  t.is(await exited, 'SIGKILL');

  const dev = await FileBlockDevice.open(path);
  t.teardown(async () => {
    if (!dev.closed) await dev.close();
  });
  t.is(dev.sizeBytes, CRASH.sizeBytes, 'the created size survived');
  sameBytes(t, await dev.read(0, M), pattern(M, 1), 'flushed write at 0');
  t.true(isZero(await dev.read(M, 2 * M)), 'flushed trim reads as zeros');
  sameBytes(t, await dev.read(3 * M, 777), pattern(777, 3), 'flushed unaligned write');
  t.true(isZero(await dev.read(3 * M + 777, M - 777)), 'never written');
  const unflushed = await dev.read(4 * M, M);
  t.log(`unflushed write ${unflushed.equals(pattern(M, 4)) ? 'survived (page cache)' : 'was lost'}`);
});
