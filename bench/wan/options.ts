/**
 * The options of `ferry bench wan`, checked once: the command line hands over strings, this module
 * returns a typed, complete set or throws FerryError INVALID_ARGUMENT with a message that says what
 * to type instead (the CLI turns it into a usage error, exit 2). Pure: no root, no namespaces.
 *
 * Paths: the four presets match the WAN table of BASELINES.md (rsync was measured on them). The
 * custom flags (--rate, --delay, ...) override those values on every selected path; without
 * --paths they describe one path named `custom`, starting from `lan`.
 */
import { ferryError, MiB, parseBytes } from '../../src/index.js';
import { parseList } from '../lib/list-option.js';

export const TOOL_NAMES = ['ferry', 'rsync', 'tcp'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface WanPath {
  name: string;
  /** Bottleneck rate per direction, Mbit/s (IP packets, headers included). */
  rateMbit: number;
  /** One-way delay per direction, milliseconds (RTT = twice this, plus queueing). */
  delayMs: number;
  /** Uniform extra one-way delay 0..jitterMs; never reorders packets. */
  jitterMs: number;
  /** Random loss probability per packet, each direction, 0..1. */
  loss: number;
  mtu: number;
  /** Drop-tail queue at the bottleneck per direction, bytes. */
  queueBytes: number;
}

type PresetValues = Omit<WanPath, 'name' | 'queueBytes'> & { queueBytes: number | null };

/** queueBytes null: one bandwidth-delay product at the path's RTT, at least MIN_QUEUE_BYTES. */
export const PRESETS: Readonly<Record<string, PresetValues>> = {
  lan: { rateMbit: 1000, delayMs: 1, jitterMs: 0, loss: 0, mtu: 1500, queueBytes: null },
  wan50: { rateMbit: 500, delayMs: 25, jitterMs: 0, loss: 0, mtu: 1500, queueBytes: null },
  lossy50: { rateMbit: 200, delayMs: 25, jitterMs: 0, loss: 0.01, mtu: 1500, queueBytes: null },
  lossy100: { rateMbit: 100, delayMs: 50, jitterMs: 0, loss: 0.05, mtu: 1500, queueBytes: null },
};
export const PRESET_NAMES = Object.keys(PRESETS);

export const MIN_QUEUE_BYTES = 256 * 1024;
export const DEFAULT_SIZE_BYTES = 256 * MiB;
/** A transfer's time bound when --timeout is not given: this plus TIMEOUT_FACTOR x the ideal time. */
export const TIMEOUT_BASE_MS = 60_000;
export const TIMEOUT_FACTOR = 10;
export const MAX_TIMEOUT_MS = 3_600_000;
export const MAX_SIZE_BYTES = 64 * 1024 * MiB;
export const MAX_RATE_MBIT = 10_000;
export const MAX_DELAY_MS = 2_000;

export interface WanBenchOptions {
  paths: WanPath[];
  sizeBytes: number;
  tools: ToolName[];
  /** Time bound of each transfer, or null for the default per path (see transferTimeoutMs). */
  timeoutMs: number | null;
  /** Seed of the emulator's loss and jitter. */
  seed: number;
}

/** What the command line passes (all optional, all as typed by the user). */
export interface RawWanOptions {
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
}

export function parseWanOptions(raw: RawWanOptions): WanBenchOptions {
  const overrides = parseOverrides(raw);
  const custom = Object.keys(overrides).length > 0;
  let names: string[];
  if (raw.paths === undefined || raw.paths.trim() === '') names = custom ? ['custom'] : [...PRESET_NAMES];
  else names = parseList(raw.paths, [...PRESET_NAMES, 'custom'], '--paths');
  const paths = names.map((n) => buildPath(n, overrides));
  return {
    paths,
    sizeBytes: raw.size === undefined ? DEFAULT_SIZE_BYTES : parseSize(raw.size),
    tools: parseList(raw.tools, TOOL_NAMES, '--tools'),
    timeoutMs: raw.timeout === undefined ? null : parseSeconds(raw.timeout, '--timeout', 1, MAX_TIMEOUT_MS),
    seed: raw.seed === undefined ? 1 : parseSeed(raw.seed),
  };
}

type Overrides = Partial<Omit<WanPath, 'name'>>;

function parseOverrides(raw: RawWanOptions): Overrides {
  const o: Overrides = {};
  if (raw.rate !== undefined) o.rateMbit = parseRateMbit(raw.rate);
  if (raw.delay !== undefined) o.delayMs = parseMs(raw.delay, '--delay');
  if (raw.jitter !== undefined) o.jitterMs = parseMs(raw.jitter, '--jitter');
  if (raw.loss !== undefined) o.loss = parseLoss(raw.loss);
  if (raw.mtu !== undefined) o.mtu = parseMtu(raw.mtu);
  if (raw.queue !== undefined) o.queueBytes = parseQueue(raw.queue);
  return o;
}

function buildPath(name: string, o: Overrides): WanPath {
  const base = PRESETS[name === 'custom' ? 'lan' : name]!;
  const v = { ...base, ...o };
  const queueBytes = v.queueBytes ?? defaultQueueBytes(v.rateMbit, v.delayMs);
  const changed = Object.keys(o).map((k) => `${k}=${String(o[k as keyof Overrides])}`);
  const label = name === 'custom' || changed.length === 0 ? name : `${name}+${changed.join(',')}`;
  return { ...v, name: label, queueBytes };
}

/** One bandwidth-delay product at the path's RTT, never below MIN_QUEUE_BYTES. */
export function defaultQueueBytes(rateMbit: number, delayMs: number): number {
  const bdp = Math.round(((rateMbit * 1e6) / 8) * ((2 * delayMs) / 1000));
  return Math.max(MIN_QUEUE_BYTES, bdp);
}

/** Bytes per second the bottleneck carries (IP packets, headers included). */
export function lineRateBytesPerSec(p: WanPath): number {
  return (p.rateMbit * 1e6) / 8;
}

/** The time bound of one transfer on this path: --timeout, else 60 s plus 10x the ideal time. */
export function transferTimeoutMs(o: WanBenchOptions, p: WanPath): number {
  if (o.timeoutMs !== null) return o.timeoutMs;
  const idealMs = (o.sizeBytes / lineRateBytesPerSec(p)) * 1000;
  return Math.min(MAX_TIMEOUT_MS, Math.round(TIMEOUT_BASE_MS + TIMEOUT_FACTOR * idealMs));
}

/** "500mbit", "1gbit", "1.5Gbit/s", "800kbit", or a bare number of Mbit/s. */
export function parseRateMbit(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])(?:bit(?:\/s)?|bps)?)?\s*$/i.exec(text);
  const scale = { k: 1e-3, m: 1, g: 1e3 } as const;
  const v = m ? Number(m[1]) * scale[(m[2]?.toLowerCase() ?? 'm') as keyof typeof scale] : NaN;
  if (!(v > 0 && v <= MAX_RATE_MBIT)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--rate: "${text}" is not a rate above 0 and up to ${MAX_RATE_MBIT / 1000} Gbit/s (e.g. 500mbit, 1gbit, 100)`,
    );
  }
  return v;
}

/** "25ms", "0.5s", "500us", or a bare number of milliseconds. */
export function parseMs(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s)?\s*$/i.exec(text);
  const scale = { us: 1e-3, ms: 1, s: 1000 } as const;
  const v = m ? Number(m[1]) * scale[(m[2]?.toLowerCase() ?? 'ms') as keyof typeof scale] : NaN;
  if (!(v >= 0 && v <= MAX_DELAY_MS)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `${flag}: "${text}" is not a one-way delay from 0 to ${MAX_DELAY_MS} ms (e.g. 25ms, 500us, 0.1s)`,
    );
  }
  return v;
}

/** "1%", "0.5 %" or a fraction such as 0.01 (each direction). */
export function parseLoss(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(v >= 0 && v < 1)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--loss: "${text}" is not a loss rate from 0 up to 100 % (e.g. 1%, 0.05)`,
    );
  }
  return v;
}

export function parseMtu(text: string): number {
  const v = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(Number.isInteger(v) && v >= 1280 && v <= 9000)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--mtu: "${text}" is not an MTU from 1280 to 9000 (e.g. 1500, 9000)`,
    );
  }
  return v;
}

function parseQueue(text: string): number {
  const v = parseBytes(text);
  if (!(Number.isInteger(v) && v >= 16 * 1024 && v <= 256 * MiB)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--queue: "${text}" is not a queue size from 16 KiB to 256 MiB (e.g. 4MiB, 512KiB)`,
    );
  }
  return v;
}

function parseSize(text: string): number {
  const v = parseBytes(text);
  if (!(Number.isSafeInteger(v) && v >= 1 && v <= MAX_SIZE_BYTES)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--size: "${text}" is not a file size from 1 B to 64 GiB (e.g. 256MiB, 1GiB)`,
    );
  }
  return v;
}

function parseSeconds(text: string, flag: string, minS: number, maxMs: number): number {
  const v = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) * 1000 : NaN;
  if (!(v >= minS * 1000 && v <= maxMs)) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `${flag}: "${text}" is not a number of seconds from ${minS} to ${maxMs / 1000}`,
    );
  }
  return v;
}

function parseSeed(text: string): number {
  const v = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(v) && v >= 0 && v < 2 ** 32)) {
    throw ferryError('INVALID_ARGUMENT', `--seed: "${text}" is not an integer from 0 to 4294967295`);
  }
  return v;
}
