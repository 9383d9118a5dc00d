/**
 * Large-file copy: `ferry cp` against an rsync daemon, the same file, in the same run.
 *
 * Why the same run: machines here are shared and noisy, so an absolute time means little; the ratio
 * of two tools measured minutes apart on the same file does. Both servers run as separate
 * processes on loopback, started and stopped here by pid; the file is random (no compression or
 * delta can help either side) and both copies are checked byte for byte after timing.
 *
 * Run: node --import tsx bench/cp-vs-rsync.ts [--size 1GiB] [--packet-size N] [--json]
 * Needs rsync (apt-get install -y rsync). Not part of the test suite.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseBytes } from '../src/index.js';
import { freePort, randomFile, startChild, startRsyncDaemon, stopChild, timed } from './lib/peers.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../', import.meta.url));
const DEV_CLI = join(REPO, 'cli/dev.ts');

interface Args {
  sizeBytes: number;
  packetSize: string | null;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { sizeBytes: 1024 ** 3, packetSize: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--size') out.sizeBytes = parseBytes(argv[++i] ?? '');
    else if (a === '--packet-size') out.packetSize = argv[++i] ?? null;
    else throw new Error(`unknown argument ${a}: use --size BYTES, --packet-size N, --json`);
  }
  if (!Number.isSafeInteger(out.sizeBytes) || out.sizeBytes <= 0)
    throw new Error('--size: write a size such as 1GiB');
  return out;
}

async function same(a: string, b: string): Promise<boolean> {
  return run('cmp', ['-s', a, b]).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await run('rsync', ['--version']).catch(() => {
    throw new Error('rsync is not installed: apt-get install -y rsync');
  });
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cp-bench-'));
  const children: ChildProcess[] = [];
  try {
    const src = join(dir, 'src.bin');
    const ferryRoot = join(dir, 'ferry-root');
    const rsyncRoot = join(dir, 'rsync-root');
    await mkdir(ferryRoot);
    await mkdir(rsyncRoot);
    await randomFile(src, args.sizeBytes);
    const packet = args.packetSize ? ['--packet-size', args.packetSize] : [];

    // ferry: a server process, then the client process timed from spawn to exit
    const ferryPort = await freePort();
    const node = process.execPath;
    const tsx = ['--import', 'tsx', DEV_CLI];
    const server = await startChild(
      node,
      [
        ...tsx,
        'serve',
        '--listen',
        `127.0.0.1:${ferryPort}`,
        '--root',
        ferryRoot,
        '--no-discovery',
        ...packet,
      ],
      /listening on/,
      { cwd: REPO },
    );
    children.push(server);
    const ferry = await timed(
      node,
      [...tsx, 'cp', src, `127.0.0.1:${ferryPort}:src.bin`, '--json', ...packet],
      {
        cwd: REPO,
      },
    );
    const ferryStats = JSON.parse(ferry.stdout) as {
      seconds: number;
      rateBytesPerSec: number;
      retransmits: number;
    };
    const ferryOk = await same(src, join(ferryRoot, 'src.bin'));
    await stopChild(server);

    // rsync daemon (uid/gid root: see NOTES.md), whole-file so no delta algorithm runs
    const { child: daemon, port: rsyncPort } = await startRsyncDaemon(dir, rsyncRoot);
    children.push(daemon);
    const rsync = await timed('rsync', ['--whole-file', src, `rsync://127.0.0.1:${rsyncPort}/mod/`]);
    const rsyncOk = await same(src, join(rsyncRoot, 'src.bin'));
    await stopChild(daemon);

    const result = {
      schema: 'ferry.bench.cp-vs-rsync/1',
      sizeBytes: args.sizeBytes,
      ferry: {
        wallSeconds: Number(ferry.seconds.toFixed(3)),
        copySeconds: ferryStats.seconds,
        rateBytesPerSec: Math.round(args.sizeBytes / ferry.seconds),
        retransmits: ferryStats.retransmits,
        identical: ferryOk,
      },
      rsync: {
        wallSeconds: Number(rsync.seconds.toFixed(3)),
        rateBytesPerSec: Math.round(args.sizeBytes / rsync.seconds),
        identical: rsyncOk,
      },
      /** ferry wall time / rsync wall time: below 1 means ferry was faster. */
      ratio: Number((ferry.seconds / rsync.seconds).toFixed(3)),
    };
    if (args.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const mb = (n: number): string => (n / 1e6).toFixed(1);
      process.stdout.write(
        `file            ${args.sizeBytes} bytes (random)\n` +
          `ferry cp        ${result.ferry.wallSeconds} s wall (${mb(result.ferry.rateBytesPerSec)} MB/s), copy ${ferryStats.seconds} s, ${ferryStats.retransmits} retransmits${ferryOk ? '' : '  MISMATCH'}\n` +
          `rsync daemon    ${result.rsync.wallSeconds} s wall (${mb(result.rsync.rateBytesPerSec)} MB/s)${rsyncOk ? '' : '  MISMATCH'}\n` +
          `ratio           ${result.ratio} (ferry / rsync wall time)\n` +
          JSON.stringify(result) +
          '\n',
      );
    }
    if (!ferryOk || !rsyncOk) process.exitCode = 1;
  } finally {
    for (const c of children) await stopChild(c);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
