/**
 * One way to name and open a block device, whatever its backend.
 *
 * Why: `ferry serve --blockdev NAME=memory:SIZE|NAME=file:PATH[:SIZE]`, the benchmarks and library
 * users all describe devices the same way; parsing and opening live here once, with errors that say
 * what to write instead.
 */
import { parseBytes } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import { FileBlockDevice } from './file.js';
import { MemoryBlockDevice } from './memory.js';
import type { BlockDevice } from './types.js';

export type BlockDeviceSpec =
  | {
      kind: 'memory';
      sizeBytes: number;
      readOnly?: boolean;
      blockBytes?: number;
      memoryLimitBytes?: number;
    }
  | {
      kind: 'file';
      path: string;
      /** With a size, a missing file is created (sparse) at it, a smaller one grown to it. */
      sizeBytes?: number;
      readOnly?: boolean;
      blockBytes?: number;
      /** Create the file if missing. Default: true when sizeBytes is given. */
      create?: boolean;
    };

/**
 * Opens the device a spec describes.
 *
 * @example
 * const dev = await openBlockDevice(parseBlockDeviceSpec('memory:1GiB'));
 */
export async function openBlockDevice(spec: BlockDeviceSpec): Promise<BlockDevice> {
  if (spec.kind === 'memory') return new MemoryBlockDevice(spec);
  if (spec.kind === 'file') {
    const { path, ...rest } = spec;
    return FileBlockDevice.open(path, { ...rest, create: spec.create ?? spec.sizeBytes !== undefined });
  }
  throw new FerryError('INVALID_ARGUMENT', `unknown block device kind; use 'memory' or 'file'`);
}

const USAGE = 'write memory:SIZE (e.g. memory:1GiB) or file:PATH[:SIZE] (e.g. file:/tmp/disk.img:8G)';

/**
 * Parses `memory:SIZE` or `file:PATH[:SIZE]`. For file specs, a last `:SIZE` part is the size when it
 * reads as one (`4096`, `8G`, `1.5GiB`), so paths may hold colons elsewhere.
 */
export function parseBlockDeviceSpec(text: string, readOnly = false): BlockDeviceSpec {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (kind === 'memory') {
    const sizeBytes = parseBytes(rest);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new FerryError('INVALID_ARGUMENT', `bad block device "${text}": no size; ${USAGE}`);
    }
    return { kind, sizeBytes, readOnly };
  }
  if (kind === 'file' && rest !== '') return parseFileSpec(text, rest, readOnly);
  throw new FerryError('INVALID_ARGUMENT', `bad block device "${text}": ${USAGE}`);
}

function parseFileSpec(text: string, rest: string, readOnly: boolean): BlockDeviceSpec {
  const last = rest.lastIndexOf(':');
  const sizeBytes = last < 0 ? NaN : parseBytes(rest.slice(last + 1));
  if (!Number.isSafeInteger(sizeBytes)) return { kind: 'file', path: rest, readOnly };
  const path = rest.slice(0, last);
  if (path === '' || sizeBytes <= 0) {
    throw new FerryError('INVALID_ARGUMENT', `bad block device "${text}": ${USAGE}`);
  }
  return { kind: 'file', path, sizeBytes, readOnly };
}
