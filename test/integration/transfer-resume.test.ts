/**
 * Resume after kill -9: of the uploading client, and separately of the server, at random points
 * (seeded; the seed is printed on failure). After `ferry cp --resume` the file on the server must be
 * byte-identical, no temporary file may remain, and the resume must send at most the blocks the
 * server could not vouch for: with the client killed, those not acknowledged before the kill; with
 * the server killed, also the acknowledged blocks not yet journaled (JOURNAL_MAX_UNJOURNALED_BLOCKS). A
 * server stopped by SIGTERM journals everything first: the resume sends exactly what was not acked.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRANSFER_LIMITS } from '../../src/index.js';
import { runFerry } from '../helpers/cli.js';
import { spawnUploadChild, startServe, type ServeProcess } from '../helpers/server-process.js';

const BLOCK_BYTES = 64 * 1024;
const FILE_BYTES = 48 * 1024 * 1024;
const TOTAL_BLOCKS = FILE_BYTES / BLOCK_BYTES;
const SEEDS = [11, 22, 33];

/** Seeded generator (mulberry32) for the kill points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fixture {
  dir: string;
  root: string;
  file: string;
  data: Buffer;
}

async function fixture(t: ExecutionContext): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-resume-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(root);
  const data = randomBytes(FILE_BYTES);
  const file = join(dir, 'src.bin');
  await writeFile(file, data);
  return { dir, root, file, data };
}

async function serve(t: ExecutionContext, root: string): Promise<ServeProcess> {
  const s = await startServe(['--root', root]);
  t.teardown(() => s.kill());
  return s;
}

/** Runs the upload child until it reported `killAt` acks, then SIGKILLs `victim` (the child or the server). */
async function uploadUntil(
  t: ExecutionContext,
  port: number,
  f: Fixture,
  killAt: number,
  victim: 'client' | ServeProcess,
  graceful = false,
): Promise<number> {
  const child = spawnUploadChild(port, f.file, 'big.bin', BLOCK_BYTES);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let acked = 0;
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`upload child reached only ${acked} acks in 120 s`)),
      120_000,
    );
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const m = /^acked (\d+)$/.exec(line);
        if (m) acked = Number(m[1]);
        if (acked >= killAt) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      if (acked < killAt) reject(new Error(`upload child exited after ${acked} acks`));
    });
  });
  if (victim === 'client') child.kill('SIGKILL');
  else if (graceful) t.is(await victim.stop(), 0, 'the server stops cleanly');
  else await victim.kill();
  if (victim !== 'client') child.kill('SIGKILL');
  await exited;
  return acked;
}

async function resumeAndCheck(
  t: ExecutionContext,
  port: number,
  f: Fixture,
  ackedBeforeKill: number,
  lostAllowance: number,
): Promise<void> {
  const r = await runFerry(
    ['cp', f.file, `127.0.0.1:${port}:big.bin`, '--resume', '--json', '--block-size', `${BLOCK_BYTES}`],
    {
      timeoutMs: 180_000,
    },
  );
  t.is(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout) as { resumed: boolean; blocksSent: number; blocksSkipped: number };
  // The server may lose at most `lostAllowance` acknowledged blocks (unjournaled ones, on a kill -9):
  // when more were acknowledged, some must be in its journal, and it must resume from it.
  if (ackedBeforeKill > lostAllowance) t.true(stats.resumed, 'the server found the journal');
  t.is(stats.blocksSent + stats.blocksSkipped, TOTAL_BLOCKS);
  const bound = TOTAL_BLOCKS - ackedBeforeKill + lostAllowance;
  t.log(
    `acked before kill ${ackedBeforeKill}/${TOTAL_BLOCKS}; resume sent ${stats.blocksSent} (bound ${bound}), skipped ${stats.blocksSkipped}`,
  );
  t.true(
    stats.blocksSent <= bound,
    `resume sent ${stats.blocksSent} blocks, at most ${bound} allowed (acked ${ackedBeforeKill} before the kill)`,
  );
  t.true((await readFile(join(f.root, 'big.bin'))).equals(f.data), 'byte-identical after resume');
  t.deepEqual(await readdir(f.root), ['big.bin'], 'no part file or journal left');
}

for (const seed of SEEDS) {
  test.serial(`kill -9 of the client at a random point, then --resume (seed ${seed})`, async (t) => {
    t.log(`seed ${seed}`);
    const f = await fixture(t);
    const server = await serve(t, f.root);
    const killAt = Math.floor(TOTAL_BLOCKS * (0.2 + 0.6 * rng(seed)()));
    const acked = await uploadUntil(t, server.port, f, killAt, 'client');
    t.false((await readdir(f.root)).includes('big.bin'), 'no partial file under the final name');
    await resumeAndCheck(t, server.port, f, acked, 0);
    t.regex(server.log(), /upload "big\.bin".*result=ok/);
  });

  test.serial(`kill -9 of the server at a random point, restart, then --resume (seed ${seed})`, async (t) => {
    t.log(`seed ${seed}`);
    const f = await fixture(t);
    const first = await serve(t, f.root);
    const killAt = Math.floor(TOTAL_BLOCKS * (0.2 + 0.6 * rng(seed + 1000)()));
    const acked = await uploadUntil(t, first.port, f, killAt, first);
    t.false((await readdir(f.root)).includes('big.bin'), 'no partial file under the final name');
    const second = await serve(t, f.root);
    await resumeAndCheck(t, second.port, f, acked, TRANSFER_LIMITS.JOURNAL_MAX_UNJOURNALED_BLOCKS);
  });
}

test.serial('SIGTERM of the server mid-upload leaves it resumable with nothing lost', async (t) => {
  const f = await fixture(t);
  const first = await serve(t, f.root);
  const acked = await uploadUntil(t, first.port, f, Math.floor(TOTAL_BLOCKS / 2), first, true);
  t.regex(first.log(), /upload "big\.bin".*resumable/);
  const second = await serve(t, f.root);
  await resumeAndCheck(t, second.port, f, acked, 0);
});
