/**
 * `ferry demo`: ferry's main job on an embedded default, with nothing to set up.
 *
 * It starts a ferry server in memory on loopback, writes a file of random bytes, copies it up
 * (offset writes) and back down with a progress bar, checks that the round trip is byte-identical
 * (the copies verify the whole-file xxhash64 themselves; the demo hashes both local files too),
 * prints throughput and transport statistics, then does the same through 2 % packet loss on both
 * sides and shows how much of the clean goodput survived. Everything it starts it stops, and the
 * temporary files are removed, also on failure or Ctrl-C.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  createXxh64,
  FerryError,
  FerryServer,
  fileSink,
  fileSource,
  initChecksums,
  MiB,
  GiB,
  openClient,
  parseBytes,
  type CopyStats,
  type EndpointStats,
  type PeerStats,
  type FerryClient,
} from '../../src/index.js';
import { formatBytes, progressBar } from '../progress.js';
import { abortOnSignal, type SignalAbort } from '../signals.js';
import { ENCRYPT_OPTION } from '../remote.js';
import { generateSecret } from '../secret.js';
import { printJson, UsageError } from '../util.js';

/** Size of the demo file unless told. */
const DEFAULT_DEMO_BYTES = 256 * MiB;
/** Bounds of --size: big enough to measure, small enough for a memory server on a small machine. */
const MIN_DEMO_BYTES = 1 * MiB;
const MAX_DEMO_BYTES = 4 * GiB;
/** Packet loss of the second round unless told. */
const DEFAULT_LOSS = 0.02;
/** Fixed seed so that two demo runs see the same losses. */
const IMPAIR_SEED = 2026;
/** Source data is generated and hashed in pieces of this size. */
const CHUNK_BYTES = 1 * MiB;

interface DemoArgs {
  size: string;
  loss: number;
  'packet-size'?: string;
  dir?: string;
  json: boolean;
  progress?: boolean;
  encrypt: boolean;
}

interface Round {
  label: string;
  loss: number;
  upload: CopyStats;
  download: CopyStats;
  identical: boolean;
  transportStats: string;
  retransmits: number;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'copy a generated file up to an in-memory ferry server and back, clean and under packet loss',
  builder: (y: Argv) =>
    y
      .option('size', { type: 'string', default: '256MiB', describe: 'size of the generated file' })
      .option('loss', {
        type: 'number',
        default: DEFAULT_LOSS,
        describe: 'packet loss of the second round, 0..0.5 (0 skips it)',
      })
      .option('packet-size', { type: 'string', describe: 'UDP payload bytes per packet (1200..65507)' })
      .option('dir', {
        type: 'string',
        describe: 'folder for the temporary files (default: the system temp)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary instead of text' })
      .option('progress', { type: 'boolean', describe: 'progress bars (default: on when stderr is a TTY)' })
      .option('encrypt', ENCRYPT_OPTION)
      .example('$0 demo', 'the default: 256 MiB, then again under 2 % loss')
      .example('$0 demo --size 1GiB --loss 0.05', 'a bigger file through 5 % loss'),
  handler: async (args) => {
    process.exitCode = await runDemo(args);
  },
};

function checkArgs(args: DemoArgs): { sizeBytes: number; transport: string | undefined } {
  const sizeBytes = parseBytes(args.size ?? String(DEFAULT_DEMO_BYTES));
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_DEMO_BYTES || sizeBytes > MAX_DEMO_BYTES) {
    throw new UsageError(`--size ${args.size}: give a size from 1MiB to 4GiB, e.g. --size 512MiB`);
  }
  if (!Number.isFinite(args.loss) || args.loss < 0 || args.loss > 0.5) {
    throw new UsageError(`--loss ${args.loss}: give a probability from 0 to 0.5, e.g. --loss 0.02`);
  }
  let transport: string | undefined;
  if (args['packet-size'] !== undefined) {
    const packetBytes = parseBytes(args['packet-size']);
    if (!Number.isSafeInteger(packetBytes)) {
      throw new UsageError(`--packet-size ${args['packet-size']}: give a byte count, e.g. 8KiB`);
    }
    transport = `packetBytes=${packetBytes}`;
  }
  return { sizeBytes, transport };
}

async function runDemo(args: DemoArgs): Promise<number> {
  const { sizeBytes, transport } = checkArgs(args);
  await initChecksums();
  const say = args.json
    ? (): void => undefined
    : (line: string): void => void process.stdout.write(line + '\n');
  const showBars = args.progress ?? (process.stderr.isTTY === true && !args.json);
  const work = await mkdtemp(join(args.dir ?? tmpdir(), 'ferry-demo-'));
  const stop = abortOnSignal();
  try {
    const source = join(work, 'source.bin');
    say(`ferry demo: writing ${formatBytes(sizeBytes)} of random data to ${source}`);
    const sourceHash = await writeRandomFile(source, sizeBytes);
    const rounds: Round[] = [];
    const plan = args.loss > 0 ? [0, args.loss] : [0];
    for (const loss of plan) {
      const label = loss === 0 ? 'clean loopback' : `${(loss * 100).toFixed(1)} % packet loss each way`;
      say(`\n== ${label} ==`);
      const round = await runRound({
        label,
        loss,
        source,
        sourceHash,
        sizeBytes,
        work,
        transport,
        showBars,
        stop,
        encrypt: args.encrypt,
      });
      rounds.push(round);
      if (!args.json) printRound(round);
    }
    const ok = rounds.every((r) => r.identical);
    if (args.json) printJson(summary(sizeBytes, rounds));
    else printVerdict(rounds, ok);
    return ok ? 0 : 1;
  } finally {
    stop.release();
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes `sizeBytes` of random data and returns its xxhash64. */
async function writeRandomFile(path: string, sizeBytes: number): Promise<bigint> {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const hasher = createXxh64();
  const fh = await open(path, 'w');
  try {
    for (let offset = 0; offset < sizeBytes; offset += CHUNK_BYTES) {
      const piece = chunk.subarray(0, Math.min(CHUNK_BYTES, sizeBytes - offset));
      randomFillSync(piece);
      hasher.update(piece);
      await fh.write(piece, 0, piece.length, offset);
    }
  } finally {
    await fh.close();
  }
  return hasher.digest();
}

/** xxhash64 of a whole file, read in pieces. */
async function hashFile(path: string): Promise<bigint> {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const hasher = createXxh64();
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      hasher.update(chunk.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hasher.digest();
}

interface RoundPlan {
  label: string;
  loss: number;
  source: string;
  sourceHash: bigint;
  sizeBytes: number;
  work: string;
  transport: string | undefined;
  showBars: boolean;
  stop: SignalAbort;
  encrypt: boolean;
}

async function runRound(p: RoundPlan): Promise<Round> {
  const impair = p.loss > 0 ? `loss=${p.loss},seed=${IMPAIR_SEED}` : null;
  // A fresh secret per round, held in memory only: nothing to set up, and no other local user can
  // talk to the demo's loopback server while it runs.
  const secret = generateSecret();
  const encrypt = p.encrypt ? {} : { encrypt: false };
  const server = await FerryServer.start({
    memory: true,
    secret,
    ...encrypt,
    quotaBytes: p.sizeBytes + 64 * MiB,
    discovery: false,
    impair,
    ...(p.transport !== undefined ? { transport: p.transport } : {}),
  });
  let client: FerryClient | undefined;
  try {
    client = await openClient({
      host: server.address.host,
      port: server.address.port,
      secret,
      ...encrypt,
      impair,
      ...(p.transport !== undefined ? { transport: p.transport } : {}),
    });
    const name = 'demo.bin';
    const upload = await withBar(`upload  `, p.showBars, (onProgress) =>
      fileSource(p.source).then(async (src) => {
        try {
          return await client!.upload(src, name, { onProgress, signal: p.stop.signal });
        } finally {
          await src.close();
        }
      }),
    );
    const copy = join(p.work, 'copy.bin');
    const download = await withBar(`download`, p.showBars, (onProgress) =>
      client!.download(name, (size) => fileSink(copy, size), { onProgress, signal: p.stop.signal }),
    );
    const identical = (await hashFile(copy)) === p.sourceHash;
    await rm(copy, { force: true });
    const peer = client.endpoint.peers()[0];
    return {
      label: p.label,
      loss: p.loss,
      upload,
      download,
      identical,
      transportStats: peer ? transportLine(peer.stats, client.endpoint.stats()) : 'no session',
      retransmits: peer?.stats.retransmits ?? 0,
    };
  } finally {
    await client?.close().catch(() => undefined);
    await server.close();
  }
}

async function withBar(
  label: string,
  enabled: boolean,
  run: (
    onProgress: ((p: { bytesDone: number; bytesTotal: number | null }) => void) | undefined,
  ) => Promise<CopyStats>,
): Promise<CopyStats> {
  const bar = progressBar(label, enabled);
  try {
    return await run(bar?.update);
  } catch (err) {
    if (err instanceof FerryError && err.code === 'ABORTED') throw new FerryError('ABORTED', 'demo stopped');
    throw err;
  } finally {
    bar?.stop();
  }
}

/** The few transport figures that tell the story of a round, on one line. */
function transportLine(s: PeerStats, e: EndpointStats): string {
  const dropped = Object.values(e.dropped).reduce((a, b) => a + b, 0);
  return (
    `${s.packetsSent} packets sent, ${s.packetsReceived} received; ${s.retransmits} retransmitted ` +
    `(${s.fastRetransmits} on ack evidence, ${s.timeouts} after a timeout); RTT ${s.rttMs.toFixed(2)} ms; ` +
    `congestion window ${s.cwndPackets} packets; ${dropped} datagrams dropped as invalid`
  );
}

function rateText(s: CopyStats): string {
  return `${formatBytes(s.bytes)} in ${s.seconds.toFixed(2)} s = ${(s.rateBytesPerSec / 1e6).toFixed(1)} MB/s`;
}

function printRound(r: Round): void {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  out(`upload   (offset writes): ${rateText(r.upload)}, ${r.upload.blocksResent} blocks re-sent`);
  out(`download (pipelined):     ${rateText(r.download)}`);
  out(
    `round trip byte-identical: ${r.identical ? 'yes' : 'NO'} (xxhash64 checked by the copies and again locally)`,
  );
  out(`transport (client side): ${r.transportStats}`);
}

function goodputKept(rounds: Round[]): { upload: number; download: number } | null {
  const clean = rounds.find((r) => r.loss === 0);
  const lossy = rounds.find((r) => r.loss > 0);
  if (!clean || !lossy) return null;
  return {
    upload: lossy.upload.rateBytesPerSec / clean.upload.rateBytesPerSec,
    download: lossy.download.rateBytesPerSec / clean.download.rateBytesPerSec,
  };
}

function printVerdict(rounds: Round[], ok: boolean): void {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const kept = goodputKept(rounds);
  out('');
  if (kept) {
    const lossy = rounds.find((r) => r.loss > 0)!;
    out(
      `goodput kept under ${(lossy.loss * 100).toFixed(1)} % loss: upload ${(kept.upload * 100).toFixed(0)} %, ` +
        `download ${(kept.download * 100).toFixed(0)} % of the clean run (${lossy.retransmits} retransmitted packets)`,
    );
  }
  out(ok ? 'ferry demo: every copy verified.' : 'ferry demo: a copy did NOT match its source.');
}

function summary(sizeBytes: number, rounds: Round[]): Record<string, unknown> {
  const copy = (s: CopyStats): Record<string, unknown> => ({
    bytes: s.bytes,
    seconds: Number(s.seconds.toFixed(3)),
    rateBytesPerSec: Math.round(s.rateBytesPerSec),
    retransmits: s.retransmits,
    rttMs: Number(s.rttMs.toFixed(3)),
    blocksResent: s.blocksResent,
    fileHash: s.fileHash,
  });
  return {
    sizeBytes,
    rounds: rounds.map((r) => ({
      label: r.label,
      loss: r.loss,
      identical: r.identical,
      upload: copy(r.upload),
      download: copy(r.download),
    })),
    goodputKept: goodputKept(rounds),
  };
}
