/**
 * The options of `ferry bench transport`, checked once: the command line hands over strings, this
 * module returns a typed, complete set or throws FerryError INVALID_ARGUMENT with a message that
 * says what to type instead (the CLI turns it into a usage error, exit 2).
 */
import { ferryError, LIMITS, MiB, parseBytes, parseDurationMs } from '../../src/index.js';
import { IMPL_NAMES, OPT_IN_IMPL_NAMES, type ImplName } from './links/link.js';
import { parseList } from '../lib/list-option.js';
import { HEADER_BYTES } from './message.js';
import type { WorkloadName } from './scenario.js';

export const WORKLOAD_NAMES: readonly WorkloadName[] = ['oneway', 'rr', 'bidi', 'n1', 'nn', 'curve', 'jumbo'];

/** Largest payload of one UDP datagram over IPv4 (loopback carries it whole). */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;
/** The packet size of the bulk target (a 1500-byte MTU less IP, UDP and ferry headers). */
export const DEFAULT_PACKET_BYTES = 1452;
/** Message sizes this benchmark accepts: a header at least, at most what a run can hold in memory. */
export const MAX_MESSAGE_BYTES = 64 * MiB;
const MAX_DURATION_MS = 3_600_000;
/** Most a fixed-amount run (`--bytes`) streams: enough for the 10 GiB memory figure and more. */
export const MAX_STREAM_BYTES = 1024 * 1024 * MiB;
/** The time bound of a fixed-amount run when --duration is not given: it stops by itself either way. */
export const STREAM_DEFAULT_DURATION_MS = 900_000;
/** The message size of a fixed-amount run when --size is not given (the bulk targets' size). */
export const STREAM_DEFAULT_SIZE_BYTES = 1 * MiB;

export interface TransportBenchOptions {
  impls: ImplName[];
  workloads: WorkloadName[];
  /** Message sizes for every workload, or null for each workload's defaults. */
  sizes: number[] | null;
  durationMs: number;
  packetSizeBytes: number;
  lossMatrix: boolean;
  smoke: boolean;
  /** Requests outstanding in the pipelined request-response variant. */
  rrDepth: number;
  /** Senders of the n-to-1 workload, nodes of the n-to-n workload. */
  n1Senders: number;
  nnNodes: number;
  /**
   * One-way runs stream this many payload bytes (then stop by themselves, within the duration), or
   * null for runs bounded by the duration only. Used for the memory target: peak RSS per side.
   */
  streamBytes: number | null;
}

/** What the command line passes (all optional, all as typed by the user). */
export interface RawTransportOptions {
  impl?: string;
  workload?: string;
  size?: string;
  duration?: string;
  packetSize?: string;
  lossMatrix?: boolean;
  smoke?: boolean;
  bytes?: string;
}

export function parseTransportOptions(raw: RawTransportOptions): TransportBenchOptions {
  const smoke = raw.smoke === true;
  const workloads = parseList(raw.workload, WORKLOAD_NAMES, '--workload');
  const streamBytes = raw.bytes === undefined ? null : parseStreamBytes(raw.bytes, workloads, raw);
  const defaultDurationMs = streamBytes !== null ? STREAM_DEFAULT_DURATION_MS : smoke ? 300 : 5000;
  return {
    impls: parseList(raw.impl, [...IMPL_NAMES, ...OPT_IN_IMPL_NAMES], '--impl', IMPL_NAMES),
    workloads,
    sizes:
      raw.size === undefined
        ? streamBytes !== null
          ? [STREAM_DEFAULT_SIZE_BYTES]
          : null
        : parseSizes(raw.size),
    durationMs: raw.duration === undefined ? defaultDurationMs : parseDuration(raw.duration),
    packetSizeBytes: raw.packetSize === undefined ? DEFAULT_PACKET_BYTES : parsePacketSize(raw.packetSize),
    lossMatrix: raw.lossMatrix === true,
    smoke,
    rrDepth: smoke ? 4 : 16,
    n1Senders: 8,
    nnNodes: 4,
    streamBytes,
  };
}

/**
 * `--bytes`: a fixed amount streamed one way. Only with `--workload oneway` alone (the other
 * workloads would run for the long default time bound) and without the loss matrix or smoke.
 */
function parseStreamBytes(
  text: string,
  workloads: readonly WorkloadName[],
  raw: RawTransportOptions,
): number {
  const n = parseBytes(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_STREAM_BYTES) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--bytes: "${text}" is not an amount from 1 B to ${MAX_STREAM_BYTES / (1024 * MiB)} GiB (e.g. 10GiB, 512MiB)`,
    );
  }
  if (workloads.length !== 1 || workloads[0] !== 'oneway' || raw.lossMatrix === true || raw.smoke === true) {
    throw ferryError(
      'INVALID_ARGUMENT',
      '--bytes streams a fixed amount one way: use it with --workload oneway alone (no --loss-matrix, no --smoke)',
    );
  }
  return n;
}

function parseSizes(text: string): number[] {
  return text.split(',').map((part) => {
    const n = parseBytes(part);
    if (!Number.isInteger(n) || n < HEADER_BYTES || n > MAX_MESSAGE_BYTES) {
      throw ferryError(
        'INVALID_ARGUMENT',
        `--size: "${part}" is not a message size from ${HEADER_BYTES} B to ${MAX_MESSAGE_BYTES / MiB} MiB (e.g. 64, 16KiB, 1MiB)`,
      );
    }
    return n;
  });
}

function parseDuration(text: string): number {
  // A bare number is seconds, as the flag's name says; `250ms` and `2s` work too.
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) * 1000 : parseDurationMs(text);
  if (!Number.isFinite(ms) || ms < 50 || ms > MAX_DURATION_MS) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--duration: "${text}" is not a duration from 0.05 to 3600 seconds (e.g. 5, 0.5, 250ms)`,
    );
  }
  return ms;
}

function parsePacketSize(text: string): number {
  const n = parseBytes(text);
  // ferry's own bounds (dgram takes the same, so both run at one size).
  if (!Number.isInteger(n) || n < LIMITS.MIN_PACKET_BYTES || n > MAX_UDP_PAYLOAD_BYTES) {
    throw ferryError(
      'INVALID_ARGUMENT',
      `--packet-size: "${text}" is not a packet size from ${LIMITS.MIN_PACKET_BYTES} to ${MAX_UDP_PAYLOAD_BYTES} bytes (e.g. 1452, 8800)`,
    );
  }
  return n;
}
