/**
 * `ferry cp` up and down through a real `ferry serve` on loopback, compared byte for byte: a large
 * file on a clean path, then a smaller one with 5 % loss and 1 % corruption switched on in both
 * processes (FERRY_IMPAIR), then an append sequence from a pipe.
 *
 * Sizes: FERRY_TEST_BIG_BYTES and FERRY_TEST_IMPAIRED_BYTES, both 1 GiB by default (about 70 s each
 * on the 2-core machine under load; lower them for a quick local run).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomFile } from '../../bench/lib/peers.js';
import { parseBytes } from '../../src/index.js';
import { runFerry, spawnFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

const BIG_BYTES = parseBytes(process.env.FERRY_TEST_BIG_BYTES ?? '1GiB');
const IMPAIRED_BYTES = parseBytes(process.env.FERRY_TEST_IMPAIRED_BYTES ?? '1GiB');
const IMPAIR = 'loss=0.05,corrupt=0.01,seed=7';

async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    await promisify(execFile)('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}

async function workdir(t: ExecutionContext): Promise<{ dir: string; root: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(root);
  return { dir, root };
}

async function upAndDown(t: ExecutionContext, sizeBytes: number, env: NodeJS.ProcessEnv): Promise<void> {
  const { dir, root } = await workdir(t);
  const src = join(dir, 'src.bin');
  const back = join(dir, 'back.bin');
  await randomFile(src, sizeBytes);
  const server = await startServe(['--root', root], { env });
  t.teardown(() => server.kill());
  const timeoutMs = 280_000;
  const up = await runFerry(['cp', src, `127.0.0.1:${server.port}:big.bin`, '--json'], { env, timeoutMs });
  t.is(up.code, 0, up.stderr);
  const upStats = JSON.parse(up.stdout) as {
    bytes: number;
    seconds: number;
    rateBytesPerSec: number;
    retransmits: number;
  };
  t.is(upStats.bytes, sizeBytes);
  t.true(await sameBytes(src, join(root, 'big.bin')), 'the server holds the same bytes');
  const down = await runFerry(['cp', `ferry://127.0.0.1:${server.port}/big.bin`, back, '--json'], {
    env,
    timeoutMs,
  });
  t.is(down.code, 0, down.stderr);
  const downStats = JSON.parse(down.stdout) as {
    seconds: number;
    rateBytesPerSec: number;
    retransmits: number;
  };
  t.true(await sameBytes(src, back), 'the download holds the same bytes');
  t.deepEqual((await readdir(root)).sort(), ['big.bin'], 'no temporary files left on the server');
  t.deepEqual(
    (await readdir(dir)).sort(),
    ['back.bin', 'root', 'src.bin'],
    'no temporary files left locally',
  );
  t.log(
    `${sizeBytes} bytes: up ${upStats.seconds} s (${(upStats.rateBytesPerSec / 1e6).toFixed(1)} MB/s, ${upStats.retransmits} retransmits), ` +
      `down ${downStats.seconds} s (${(downStats.rateBytesPerSec / 1e6).toFixed(1)} MB/s, ${downStats.retransmits} retransmits)`,
  );
  t.is(await server.stop(), 0, 'the server stops cleanly on SIGTERM');
  t.regex(server.log(), /upload "big\.bin".*result=ok/);
  t.regex(server.log(), /download "big\.bin".*result=ok/);
}

test.serial(`cp up and down, ${BIG_BYTES} bytes, clean loopback`, async (t) => {
  await upAndDown(t, BIG_BYTES, { FERRY_IMPAIR: '' });
});

test.serial(`cp up and down, ${IMPAIRED_BYTES} bytes, 5 % loss and 1 % corruption`, async (t) => {
  await upAndDown(t, IMPAIRED_BYTES, { FERRY_IMPAIR: IMPAIR });
});

test.serial('cp - from a pipe makes an append sequence; cp to - streams it back', async (t) => {
  const { dir, root } = await workdir(t);
  const src = join(dir, 'src.bin');
  await randomFile(src, 5 * 1024 * 1024 + 77);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const child = spawnFerry(['cp', '-', `127.0.0.1:${server.port}:piped.bin`, '--json']);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const fh = await open(src, 'r');
  // feed the pipe in uneven pieces, as a producer would
  for (let off = 0, i = 0; ; i++) {
    const buf = Buffer.alloc(1000 + ((i * 7919) % 200_000));
    const { bytesRead } = await fh.read(buf, 0, buf.length, off);
    if (bytesRead === 0) break;
    off += bytesRead;
    if (!child.stdin!.write(buf.subarray(0, bytesRead)))
      await new Promise((r) => child.stdin!.once('drain', r));
  }
  await fh.close();
  child.stdin!.end();
  t.is(await exited, 0, err);
  const stats = JSON.parse(out) as { mode: string; bytes: number };
  t.is(stats.mode, 'append');
  t.is(stats.bytes, 5 * 1024 * 1024 + 77);
  t.true(await sameBytes(src, join(root, 'piped.bin')));
  const down = spawnFerry(['cp', `127.0.0.1:${server.port}:piped.bin`, '-']);
  const chunks: Buffer[] = [];
  down.stdout!.on('data', (d: Buffer) => chunks.push(d));
  down.stdin!.end();
  const downCode = await new Promise<number | null>((r) => down.once('close', (code) => r(code)));
  t.is(downCode, 0);
  t.true(Buffer.concat(chunks).equals(await readFile(src)), 'cp to - streams the same bytes');
  const mode = await runFerry([
    'cp',
    src,
    `127.0.0.1:${server.port}:appended.bin`,
    '--mode',
    'append',
    '--json',
  ]);
  t.is(mode.code, 0, mode.stderr);
  t.true(await sameBytes(src, join(root, 'appended.bin')));
});
