/**
 * `ferry impair`: the impairment layer as a standalone UDP proxy between two addresses.
 *
 * Why a command: to impair traffic between programs that do not embed ferry's impairment layer (a
 * peer tool, a benchmark baseline, two ferry processes) on a kernel without netem. This module only
 * parses, validates and prints; the proxy itself is ImpairProxy in the public API.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  describeSchema,
  IMPAIR_PROXY_SCHEMA,
  IMPAIRMENT_SCHEMA,
  ImpairProxy,
  parseKeyValues,
  type ImpairProxyStats,
  type ImpairmentStats,
} from '../../src/index.js';
import { untilSignal } from '../signals.js';
import { asUsage, failAsUsage, throwAsUsage, UsageError } from '../util.js';

/** Command-line flags that set one impairment setting each. */
const FLAG_SETTINGS = {
  loss: ['loss', 'probability that a datagram is dropped (0..1)'],
  'burst-loss': ['burstLoss', 'probability per datagram of entering a loss burst (0..1)'],
  'burst-len': ['burstLen', 'mean loss burst length, in datagrams'],
  dup: ['dup', 'probability that a datagram is duplicated (0..1)'],
  reorder: ['reorder', 'probability that a datagram is held back so later ones overtake it (0..1)'],
  'reorder-ms': ['reorderMs', 'how much longer a reordered datagram is held (ms)'],
  corrupt: ['corrupt', 'probability that a datagram gets a bit flipped (0..1)'],
  delay: ['delayMs', 'delay added to every datagram (ms)'],
  jitter: ['jitterMs', 'uniform jitter around the delay (ms)'],
  rate: ['rateBytesPerSec', 'rate limit in bytes per second, e.g. 10MiB (0: none)'],
  seed: ['seed', 'seed of the decisions (default: random, printed)'],
} as const;

type FlagName = keyof typeof FLAG_SETTINGS;

type ImpairArgs = { [F in FlagName]?: string } & {
  listen: string;
  to: string;
  direction: string;
  config?: string;
  insecure: boolean;
  json: boolean;
  'stats-interval'?: string;
};

export const impairCommand: CommandModule<object, ImpairArgs> = {
  command: 'impair',
  describe: 'run a UDP proxy that loses, delays, reorders, duplicates, corrupts or throttles datagrams',
  builder: (y: Argv<object>) => {
    let b = y
      .option('listen', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: 'HOST:PORT clients send to (port 0: any free port)',
      })
      .option('to', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: 'HOST:PORT datagrams are forwarded to',
      })
      .option('direction', {
        type: 'string',
        choices: ['up', 'down', 'both'],
        default: 'both',
        describe: 'impair client-to-target (up), target-to-client (down) or both',
      })
      .option('config', {
        type: 'string',
        requiresArg: true,
        describe: 'more settings as key=value,... (flags override; keys listed below)',
      })
      .option('insecure', {
        type: 'boolean',
        default: false,
        describe: 'allow addresses that are not loopback',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON lines instead of text' })
      .option('stats-interval', {
        type: 'string',
        requiresArg: true,
        describe: 'also print stats every N ms',
      });
    for (const [flag, [, doc]] of Object.entries(FLAG_SETTINGS)) {
      b = b.option(flag, { type: 'string', requiresArg: true, describe: doc });
    }
    return b
      .fail(failAsUsage)
      .example('$0 impair --listen 127.0.0.1:9001 --to 127.0.0.1:9000 --loss 0.05 --delay 20 --jitter 10', '')
      .epilog(
        'Settings for --config (and FERRY_IMPAIR):\n  ' +
          [...describeSchema(IMPAIRMENT_SCHEMA), ...describeSchema(IMPAIR_PROXY_SCHEMA)].join('\n  '),
      ) as unknown as Argv<ImpairArgs>;
  },
  handler: async (argv) => {
    const { impairment, proxySettings } = settingsFrom(argv);
    const statsIntervalMs = argv['stats-interval'] === undefined ? 0 : positiveMs(argv['stats-interval']);
    const proxy = await createProxy(argv, impairment, proxySettings);
    const startedMs = performance.now();
    const stopped = untilSignal();
    printStart(proxy, impairment, argv.json);
    const periodic =
      statsIntervalMs > 0
        ? setInterval(() => printStats(proxy.stats(), argv.json, false, startedMs), statsIntervalMs)
        : null;
    await stopped;
    if (periodic) clearInterval(periodic);
    const stats = proxy.stats();
    await proxy.close();
    printStats(stats, argv.json, true, startedMs);
  },
};

/** Impairment and proxy settings from --config, overridden by the individual flags. */
function settingsFrom(argv: ImpairArgs): {
  impairment: Record<string, string>;
  proxySettings: Record<string, string>;
} {
  const impairment: Record<string, string> = {};
  const proxySettings: Record<string, string> = { direction: argv.direction };
  const given = asUsage(() => parseKeyValues(argv.config ?? '', '--config'));
  for (const [key, value] of Object.entries(given)) {
    if (key in IMPAIRMENT_SCHEMA) impairment[key] = value;
    else if (key in IMPAIR_PROXY_SCHEMA) proxySettings[key] = value;
    else {
      const known = [...Object.keys(IMPAIRMENT_SCHEMA), ...Object.keys(IMPAIR_PROXY_SCHEMA)].join(', ');
      throw new UsageError(`--config: unknown setting "${key}"; known settings: ${known}`);
    }
  }
  for (const [flag, [key]] of Object.entries(FLAG_SETTINGS)) {
    const value = argv[flag as FlagName];
    if (value !== undefined) impairment[key] = value;
  }
  return { impairment, proxySettings };
}

async function createProxy(
  argv: ImpairArgs,
  impairment: Record<string, string>,
  proxySettings: Record<string, string>,
): Promise<ImpairProxy> {
  try {
    return await ImpairProxy.create({
      ...proxySettings,
      listen: argv.listen,
      to: argv.to,
      impairment,
      insecure: argv.insecure,
    });
  } catch (err) {
    throwAsUsage(err, ['INVALID_ARGUMENT', 'INVALID_CONFIG', 'NOT_LOOPBACK']);
  }
}

function positiveMs(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 100 || n > 86_400_000) {
    throw new UsageError(`--stats-interval ${text}: use whole milliseconds from 100 to 86400000`);
  }
  return n;
}

function printStart(proxy: ImpairProxy, impairment: Record<string, string>, json: boolean): void {
  const s = proxy.stats();
  const seeds = { up: s.up?.seed ?? null, down: s.down?.seed ?? null };
  if (json) {
    const line = { event: 'start', listen: s.listen, to: s.to, direction: s.direction, impairment, seeds };
    process.stdout.write(JSON.stringify(line) + '\n');
    return;
  }
  const settings = Object.entries(impairment)
    .filter(([k]) => k !== 'seed')
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const seedText = [
    seeds.up === null ? '' : `up ${seeds.up}`,
    seeds.down === null ? '' : `down ${seeds.down}`,
  ]
    .filter(Boolean)
    .join(', ');
  process.stdout.write(
    `ferry impair: listening on ${s.listen}, forwarding to ${s.to}; impairing ${s.direction === 'both' ? 'both directions' : s.direction}` +
      ` with ${settings || 'nothing'} (seed ${seedText}); Ctrl-C prints stats and stops\n`,
  );
}

function printStats(s: ImpairProxyStats, json: boolean, final: boolean, startedMs: number): void {
  const elapsedMs = Math.round(performance.now() - startedMs);
  if (json) {
    process.stdout.write(JSON.stringify({ event: final ? 'stop' : 'stats', elapsedMs, ...s }) + '\n');
    return;
  }
  const lines = [
    `ferry impair: ${final ? 'stopped' : 'running'} after ${(elapsedMs / 1000).toFixed(1)} s`,
    `  up   (client -> target): ${directionText(s.datagramsUp, s.up)}`,
    `  down (target -> client): ${directionText(s.datagramsDown, s.down)}`,
    `  clients: ${s.clientsActive} active, ${s.clientsTotal} total, ${s.clientsRefused} datagrams refused (maxClients), ` +
      `${s.clientsExpired} expired; socket errors ${s.socketErrors}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

function directionText(forwarded: number, i: ImpairmentStats | null): string {
  if (!i) return `${forwarded} forwarded, not impaired`;
  const lost = i.droppedLoss + i.droppedBurst;
  return (
    `${i.datagramsIn} in, ${forwarded} forwarded; lost ${lost} (${i.bursts} bursts), duplicated ${i.duplicated}, ` +
    `corrupted ${i.corrupted}, reordered ${i.reordered}, held ${i.held}, dropped by rate queue ` +
    `${i.droppedRateQueue} and hold limit ${i.droppedHeldLimit}; seed ${i.seed}`
  );
}
