/**
 * Download resume after kill -9 of the client: `ferry cp --resume ferry://HOST:PORT/NAME LOCAL`
 * moves only the blocks the part file's journal does not vouch for, the whole-file hash is still
 * checked, and the file appears under its name only whole. Part file and journal are the user's
 * alone (0600) while they exist.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnFerry, runFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

const BLOCK_BYTES = 64 * 1024;
const FILE_BYTES = 24 * 1024 * 1024;
const TOTAL_BLOCKS = FILE_BYTES / BLOCK_BYTES;
/** Slow enough that the kill lands mid-download. */
const RATE = '6MiB';

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function setup(
  t: ExecutionContext,
): Promise<{ port: number; data: Buffer; out: string; local: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-dl-resume-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const out = join(dir, 'out');
  await mkdir(root);
  await mkdir(out);
  const data = randomBytes(FILE_BYTES);
  await writeFile(join(root, 'big.bin'), data);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  return { port: server.port, data, out, local: join(out, 'big.bin') };
}

/** Starts a slow download, waits for its journal, checks the modes, and SIGKILLs it mid-way. */
async function downloadAndKill(t: ExecutionContext, port: number, out: string, local: string): Promise<void> {
  const part = join(out, '.big.bin.ferry-part');
  const journal = join(out, '.big.bin.ferry-journal');
  const child = spawnFerry([
    'cp',
    '--rate',
    RATE,
    '--block-size',
    `${BLOCK_BYTES}`,
    `ferry://127.0.0.1:${port}/big.bin`,
    local,
  ]);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await waitFor('the first journal flush', () => exists(journal), 30_000);
  t.is((await stat(part)).mode & 0o777, 0o600, 'part file mode');
  t.is((await stat(journal)).mode & 0o777, 0o600, 'journal mode');
  await new Promise((r) => setTimeout(r, 800));
  t.is(child.exitCode, null, 'the download was still running at the kill');
  child.kill('SIGKILL');
  await exited;
  t.false(await exists(local), 'nothing under the final name before the resume');
}

test.serial(
  "kill -9 of a downloading client, then --resume (in the journal's block size) moves only the missing blocks",
  async (t) => {
    const { port, data, out, local } = await setup(t);
    await downloadAndKill(t, port, out, local);

    const r = await runFerry(['cp', '--resume', '--json', `ferry://127.0.0.1:${port}/big.bin`, local], {
      timeoutMs: 120_000,
    });
    t.is(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as {
      resumed: boolean;
      bytes: number;
      bytesMoved: number;
      blocksSent: number;
      blocksSkipped: number;
    };
    t.log(`resume moved ${s.bytesMoved} of ${s.bytes} bytes, skipped ${s.blocksSkipped} blocks`);
    t.true(s.resumed, 'the journal was found');
    t.true(s.blocksSkipped > 0, 'some blocks were kept from the first run');
    t.true(s.bytesMoved < s.bytes, 'fewer bytes moved the second time');
    t.is(s.blocksSent + s.blocksSkipped, TOTAL_BLOCKS);
    t.is(s.bytesMoved, s.blocksSent * BLOCK_BYTES);
    t.true((await readFile(local)).equals(data), 'byte-identical after the resume');
    t.deepEqual(await readdir(out), ['big.bin'], 'no part file or journal left');
  },
);

test.serial('a download without --resume starts over, whatever part file is there', async (t) => {
  const { port, data, out, local } = await setup(t);
  await writeFile(join(out, '.big.bin.ferry-part'), Buffer.alloc(FILE_BYTES, 7));
  const r = await runFerry(['cp', '--json', `ferry://127.0.0.1:${port}/big.bin`, local], {
    timeoutMs: 120_000,
  });
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { resumed: boolean; bytesMoved: number };
  t.false(s.resumed);
  t.is(s.bytesMoved, FILE_BYTES);
  t.true((await readFile(local)).equals(data));
  t.deepEqual(await readdir(out), ['big.bin']);
});

test.serial(
  'a resume over a part file changed behind its journal fails the file hash, keeps nothing',
  async (t) => {
    const { port, out, local } = await setup(t);
    await downloadAndKill(t, port, out, local);
    const part = join(out, '.big.bin.ferry-part');
    const bytes = await readFile(part);
    bytes[0] = bytes[0]! ^ 0xff; // block 0 is in the first journal flush
    await writeFile(part, bytes);
    const r = await runFerry(
      ['cp', '--resume', '--block-size', `${BLOCK_BYTES}`, `ferry://127.0.0.1:${port}/big.bin`, local],
      {
        timeoutMs: 120_000,
      },
    );
    t.not(r.code, 0);
    t.regex(r.stderr, /xxhash64/);
    t.deepEqual(await readdir(out), [], 'neither the file nor the part file nor the journal is kept');
  },
);
