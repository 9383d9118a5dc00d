/**
 * Finding, creating and sizing what a FileBlockDevice serves: a regular file or a block device node.
 *
 * Why apart from the device: opening is the control path, with every decision about what the user
 * asked for (create a sparse file of a size, reuse an existing one, serve /dev/loop0) and the clear
 * errors when it cannot be done. The device class then only does I/O on an open handle.
 *
 * - A missing path is created only with `create: true` and a `sizeBytes`: the file is made sparse at
 *   that size (ftruncate), then it and its directory are fsynced, so a created device survives a crash.
 * - An existing regular file keeps its size; a larger `sizeBytes` grows it (sparse), a smaller one is
 *   refused (it would destroy data).
 * - A block device's size comes from sysfs (`/sys/dev/block/MAJ:MIN/size`, in 512-byte sectors):
 *   stat reports 0 for device nodes and Node has no ioctl or lseek.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../core/errors.js';
import { fromFsError } from './fs-errors.js';
import { checkGeometry, DEFAULT_BLOCK_BYTES, isValidBlockBytes } from './range.js';

export interface FileTargetOptions {
  /** Size of a file to create or grow to; for an existing device node it must match. */
  sizeBytes?: number;
  readOnly?: boolean;
  /** Create the file when the path does not exist (needs sizeBytes). Default false. */
  create?: boolean;
  /** Preferred I/O size to report; default: the host's answer, else 4096. */
  blockBytes?: number;
}

export interface OpenedTarget {
  handle: FileHandle;
  sizeBytes: number;
  blockBytes: number;
  /** 'file' for a regular file (holes can be punched and detected), 'device' for a block device. */
  kind: 'file' | 'device';
}

/** Opens (or creates) the target. Throws FerryError; on failure no handle stays open. */
export async function openTarget(path: string, options: FileTargetOptions): Promise<OpenedTarget> {
  if (typeof path !== 'string' || path === '') {
    throw new FerryError('INVALID_ARGUMENT', 'file block device: give the path of a file or block device');
  }
  const st = await statOrNull(path);
  if (!st) return createFile(path, options);
  if (st.isFile()) return openRegular(path, Number(st.size), Number(st.blksize), options);
  if (st.isBlockDevice()) return openDevice(path, st.rdev, options);
  throw new FerryError(
    'INVALID_ARGUMENT',
    `file block device: ${path} is neither a regular file nor a block device`,
    { path },
  );
}

async function statOrNull(path: string) {
  try {
    return await stat(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fromFsError(err, `file block device: cannot stat ${path}`);
  }
}

async function createFile(path: string, options: FileTargetOptions): Promise<OpenedTarget> {
  if (!options.create) {
    throw new FerryError(
      'NOT_FOUND',
      `file block device: ${path} does not exist; pass create: true and sizeBytes to create it`,
      { path },
    );
  }
  if (options.readOnly) {
    throw new FerryError('INVALID_ARGUMENT', `file block device: cannot create ${path} read-only`, { path });
  }
  const sizeBytes = options.sizeBytes;
  if (sizeBytes === undefined) {
    throw new FerryError('INVALID_ARGUMENT', `file block device: give sizeBytes to create ${path}`, { path });
  }
  const blockBytes = chooseBlockBytes(options.blockBytes, 0);
  checkGeometry(sizeBytes, blockBytes);
  const handle = await openHandle(path, 'wx+');
  try {
    await handle.truncate(sizeBytes);
    await handle.sync();
    await syncDirectory(dirname(path));
  } catch (err) {
    await handle.close();
    throw fromFsError(err, `file block device: cannot create ${path} of ${sizeBytes} bytes`);
  }
  return { handle, sizeBytes, blockBytes, kind: 'file' };
}

async function openRegular(
  path: string,
  currentBytes: number,
  hostBlockBytes: number,
  options: FileTargetOptions,
): Promise<OpenedTarget> {
  const wanted = options.sizeBytes ?? currentBytes;
  const blockBytes = chooseBlockBytes(options.blockBytes, hostBlockBytes);
  checkGeometry(wanted, blockBytes);
  if (wanted < currentBytes) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `file block device: ${path} holds ${currentBytes} bytes; refusing to shrink it to ${wanted} (data would be lost)`,
      { path, sizeBytes: wanted, currentBytes },
    );
  }
  if (wanted > currentBytes && options.readOnly) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `file block device: ${path} holds ${currentBytes} bytes; a read-only device cannot grow it to ${wanted}`,
      { path, sizeBytes: wanted, currentBytes },
    );
  }
  const handle = await openHandle(path, options.readOnly ? 'r' : 'r+');
  if (wanted > currentBytes) {
    try {
      await handle.truncate(wanted);
      await handle.sync();
    } catch (err) {
      await handle.close();
      throw fromFsError(err, `file block device: cannot grow ${path} to ${wanted} bytes`);
    }
  }
  return { handle, sizeBytes: wanted, blockBytes, kind: 'file' };
}

async function openDevice(path: string, rdev: bigint, options: FileTargetOptions): Promise<OpenedTarget> {
  const sysfs = `/sys/dev/block/${deviceMajor(rdev)}:${deviceMinor(rdev)}`;
  const sectors = Number((await readSysfs(`${sysfs}/size`)) ?? NaN);
  if (!Number.isSafeInteger(sectors)) {
    throw new FerryError('IO_ERROR', `file block device: cannot read the size of ${path} from ${sysfs}/size`);
  }
  const sizeBytes = sectors * 512;
  if (options.sizeBytes !== undefined && options.sizeBytes !== sizeBytes) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `file block device: ${path} is a device of ${sizeBytes} bytes, not ${options.sizeBytes}; leave sizeBytes out`,
      { path, sizeBytes: options.sizeBytes, deviceBytes: sizeBytes },
    );
  }
  const hostBlockBytes = Number((await readSysfs(`${sysfs}/queue/logical_block_size`)) ?? 0);
  const blockBytes = chooseBlockBytes(options.blockBytes, hostBlockBytes);
  checkGeometry(sizeBytes, blockBytes);
  const handle = await openHandle(path, options.readOnly ? 'r' : 'r+');
  return { handle, sizeBytes, blockBytes, kind: 'device' };
}

async function openHandle(path: string, flags: string): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (err) {
    throw fromFsError(err, `file block device: cannot open ${path}`);
  }
}

/** Makes a new directory entry durable (the file's own fsync does not cover its name). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readSysfs(file: string): Promise<string | null> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
}

function chooseBlockBytes(asked: number | undefined, host: number): number {
  if (asked !== undefined) return asked;
  return isValidBlockBytes(host) ? host : DEFAULT_BLOCK_BYTES;
}

/** Linux dev_t encoding (glibc gnu_dev_major / gnu_dev_minor). */
function deviceMajor(rdev: bigint): bigint {
  return ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
}

function deviceMinor(rdev: bigint): bigint {
  return (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
}
