/**
 * The command-line flags of `ferry bench wan`, for the CLI (cli/commands/bench.ts registers them
 * with `wanBuilder`) and for bench/wan/main.ts. Values stay strings here; options.ts checks them.
 */
import type { Argv } from 'yargs';
import type { RawWanOptions } from './options.js';

export interface WanArgs {
  paths?: string;
  rate?: string;
  delay?: string;
  loss?: string;
  jitter?: string;
  mtu?: string;
  queue?: string;
  size?: string;
  tools?: string;
  timeout?: string;
  seed?: string;
  json: boolean;
}

const STRING_FLAGS: [keyof RawWanOptions, string][] = [
  ['paths', 'paths, comma-separated: lan,wan50,lossy50,lossy100,custom (default: the four presets)'],
  ['rate', 'bottleneck rate each way, e.g. 500mbit, 1gbit (overrides the selected paths)'],
  ['delay', 'one-way delay, e.g. 25ms (RTT is twice this)'],
  ['loss', 'random loss each way, e.g. 1% or 0.01'],
  ['jitter', 'extra one-way delay 0..JITTER, e.g. 2ms (never reorders)'],
  ['mtu', 'device MTU, 1280..9000 (default 1500; 9000 for jumbo frames)'],
  ['queue', 'drop-tail queue at the bottleneck each way, e.g. 4MiB (default: one BDP, at least 256 KiB)'],
  ['size', 'file size, e.g. 256MiB (default), 1GiB'],
  ['tools', 'tools, comma-separated: ferry,rsync,tcp (default: all)'],
  ['timeout', 'seconds each copy may take (default: 60 + 10x its ideal time)'],
  ['seed', "seed of the emulator's loss and jitter (default 1)"],
];

export function wanBuilder<T>(y: Argv<T>): Argv<T & WanArgs> {
  let b = y as unknown as Argv<WanArgs>;
  for (const [name, describe] of STRING_FLAGS)
    b = b.option(name, { type: 'string', requiresArg: true, describe });
  return b
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print the report as JSON (ferry.bench.wan/1)',
    })
    .example('$0 bench wan', 'the four preset paths, 256 MiB each (needs root, several minutes)')
    .example('$0 bench wan --paths lossy50 --tools ferry,rsync --size 64MiB', 'one path, two tools')
    .example('$0 bench wan --rate 300mbit --delay 40ms --loss 0.5%', 'a custom path') as unknown as Argv<
    T & WanArgs
  >;
}

/** The parsed flags as options.ts takes them. */
export function rawWanOptions(a: Partial<WanArgs>): RawWanOptions {
  const out: RawWanOptions = {};
  for (const [name] of STRING_FLAGS) {
    const v = a[name];
    if (v !== undefined) out[name] = String(v);
  }
  return out;
}
