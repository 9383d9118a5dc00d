/**
 * Crash honesty of DirectoryFlatFs: a child process writes and fsyncs, renames, writes more
 * without fsync, and is killed with SIGKILL; reopening the directory must find everything that was
 * promised durable (fsynced data, completed renames) and nothing of a half-state (the hidden
 * upload name is gone once renamed).
 *
 * A SIGKILL does not drop the host's page cache, so this checks what the backend promised and
 * acknowledged before dying, not power loss.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GiB, KiB, MiB } from '../../src/core/limits.js';
import { DirectoryFlatFs } from '../../src/flatfs/directory.js';
import { HIDDEN_PREFIX, type FlatFs } from '../../src/flatfs/types.js';
import { pattern } from '../unit/flatfs/pattern.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./flatfs-crash-child.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

async function readAll(fs: FlatFs, name: string, offset: number, lengthBytes: number): Promise<Buffer> {
  const h = await fs.open(name);
  try {
    return await fs.read(h, offset, lengthBytes);
  } finally {
    await fs.closeFile(h);
  }
}

/** Runs the child until it prints READY, then kills it with SIGKILL and waits for it to end. */
function runAndKill(root: string, onSpawn: (pid: number) => void): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) onSpawn(child.pid);
    let stderr = '';
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crash child not READY within ${READY_TIMEOUT_MS} ms: ${stderr}`));
    }, READY_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('READY\n')) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && stdout.includes('READY\n')) resolve(signal);
      else reject(new Error(`crash child ended with code ${code}, signal ${signal}: ${stderr}`));
    });
  });
}

test('directory: fsynced data and completed renames survive SIGKILL', async (t) => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-flatfs-crash-'));
  let childPid = 0;
  t.teardown(async () => {
    if (childPid !== 0) {
      try {
        process.kill(childPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await fsp.rm(root, { recursive: true, force: true });
  });
  t.is(await runAndKill(root, (pid) => (childPid = pid)), 'SIGKILL');
  childPid = 0;

  const fs = await DirectoryFlatFs.open({ root, quotaBytes: 8 * GiB });
  t.teardown(() => fs.close());
  t.true((await readAll(fs, 'durable-a', 0, 2 * MiB)).equals(pattern(1 * MiB + 7, 1)), 'fsynced file intact');
  t.true((await readAll(fs, 'published', 0, 1 * MiB)).equals(pattern(512 * KiB, 2)), 'renamed upload intact');
  const names = (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
  t.false(names.includes(`${HIDDEN_PREFIX}upload`), 'the temporary name is gone after the rename');
  t.is((await fs.stat('sparse')).sizeBytes, 5 * GiB + 4 * KiB);
  t.true((await readAll(fs, 'sparse', 5 * GiB, 4 * KiB)).equals(pattern(4 * KiB, 3)), 'sparse write intact');
  t.true((await readAll(fs, 'sparse', 0, 4 * KiB)).equals(Buffer.alloc(4 * KiB)), 'the hole reads as zeros');
  const b = await readAll(fs, 'durable-b', 0, 1 * MiB);
  t.true(b.length >= 100 * KiB, `durable-b kept its fsynced ${100 * KiB} bytes (has ${b.length})`);
  t.true(b.subarray(0, 100 * KiB).equals(pattern(100 * KiB, 4)), 'the fsynced prefix is intact');
  // The quota scan at reopen counts what is really there, whatever survived of the unsynced work.
  const used = (await fs.statfs()).usedBytes;
  const sizes = (await fs.list({ includeHidden: true })).entries.reduce((n, e) => n + e.sizeBytes, 0);
  t.is(used, sizes);
});
