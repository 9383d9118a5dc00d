/**
 * The copy of one file that `cp` and `cp -r` (and `sync`) share: the copy flags read once
 * (`copyOptions`), and one function that copies a file either way through FerryClient (`copyOne`).
 *
 * Why here: commands never import each other, and a tree copy must reuse the single-file path, not
 * a second copy of it.
 */
import {
  partFileSink,
  fileSource,
  parseBytes,
  streamSink,
  type CopyOptions,
  type CopyStats,
  type DownloadGeometry,
  type FerryClient,
} from '../src/index.js';
import type { RemoteArgs } from './remote.js';
import { UsageError } from './util.js';

/** The flags of a copy. */
export interface CopyArgs extends RemoteArgs {
  mode: string;
  resume: boolean;
  verify: boolean;
  rate?: string;
  json: boolean;
  'block-size'?: string;
  window?: number;
  progress?: boolean;
}

/** CopyOptions from the flags; throws UsageError for a bad value. */
export function copyOptions(args: CopyArgs): CopyOptions {
  const opts: CopyOptions = { resume: args.resume, verify: args.verify };
  if (args.rate !== undefined) {
    const rate = parseBytes(args.rate);
    if (!Number.isSafeInteger(rate) || rate <= 0)
      throw new UsageError(`--rate ${args.rate}: write bytes per second, e.g. 50MiB`);
    opts.rateBytesPerSec = rate;
  }
  if (args['block-size'] !== undefined) {
    const b = parseBytes(args['block-size']);
    if (!Number.isSafeInteger(b) || b < 4096 || b > 4 * 1024 * 1024 || (b & (b - 1)) !== 0) {
      throw new UsageError(`--block-size ${args['block-size']}: use a power of two from 4KiB to 4MiB`);
    }
    opts.blockBytes = b;
  }
  if (args.window !== undefined) {
    if (!Number.isInteger(args.window) || args.window < 1 || args.window > 256)
      throw new UsageError(`--window ${args.window}: use 1..256 blocks`);
    opts.windowBlocks = args.window;
  }
  return opts;
}

/** Whether to draw a progress bar: --progress, else when stderr is a TTY and no --json. */
export function showProgress(args: CopyArgs): boolean {
  return args.progress ?? (process.stderr.isTTY === true && !args.json);
}

/** The one copy of one file, either way (a file, or `-` for stdin or stdout). */
export async function copyOne(
  client: FerryClient,
  direction: 'upload' | 'download',
  item: { local: string; name: string },
  args: CopyArgs,
  opts: CopyOptions,
): Promise<CopyStats> {
  if (direction === 'download') {
    const makeSink =
      item.local === '-'
        ? async () => streamSink(process.stdout)
        : (_size: number, geometry: DownloadGeometry) => partFileSink(item.local, geometry);
    return await client.download(item.name, makeSink, opts);
  }
  if (item.local === '-') {
    if (args.resume) throw new UsageError('stdin cannot be resumed: copy from a file to use --resume');
    return await client.uploadAppend({ stream: process.stdin }, item.name, opts);
  }
  const source = await fileSource(item.local);
  try {
    return args.mode === 'append'
      ? await client.uploadAppend({ source }, item.name, opts)
      : await client.upload(source, item.name, opts);
  } finally {
    await source.close();
  }
}
