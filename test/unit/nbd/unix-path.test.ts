/**
 * `--unix PATH` removes only a stale socket at PATH: a regular file, a symlink or a FIFO there is
 * refused with NBD_LISTEN_FAILED and left as it was.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../../src/core/errors.js';
import { MemoryBlockDevice } from '../../../src/blockdev/memory.js';
import { NbdServer } from '../../../src/nbd/server.js';

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-nbd-path-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refused(t: import('ava').ExecutionContext, at: string): Promise<void> {
  const device = new MemoryBlockDevice({ sizeBytes: 1 << 20 });
  const err = await t.throwsAsync(NbdServer.listen({ device }, { unix: at }));
  t.true(isFerryError(err, 'NBD_LISTEN_FAILED'), String(err));
  t.regex(String(err), /not a socket/);
}

test('a regular file at the socket path is refused and kept', async (t) => {
  const at = path.join(await tempDir(t), 'data.img');
  await writeFile(at, 'precious');
  await refused(t, at);
  t.is(await readFile(at, 'utf8'), 'precious');
});

test('a symlink or FIFO at the socket path is refused and kept', async (t) => {
  const dir = await tempDir(t);
  const target = path.join(dir, 'target');
  await writeFile(target, 'precious');
  const link = path.join(dir, 'link');
  await symlink(target, link);
  await refused(t, link);
  t.true((await lstat(link)).isSymbolicLink());
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  await refused(t, fifo);
  t.true((await lstat(fifo)).isFIFO());
});
