/**
 * The directory backend's plain host I/O: the root folder check, and positional reads and writes
 * that loop until done.
 *
 * Why: the host may read or write less than asked per call; these loops are the one place that
 * turns that into "all of it, or end of file" (reads) and "all of it, or an error" (writes).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle as HostFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import { errnoOf, hostError } from './host-errors.js';

/** The resolved path of `root`, which must be an existing directory. */
export async function checkRoot(root: unknown): Promise<string> {
  if (typeof root !== 'string' || root.length === 0) {
    throw new FerryError('INVALID_ARGUMENT', 'root must be the path of an existing directory');
  }
  const resolved = path.resolve(root);
  const stat = await fsp.stat(resolved).catch((err: unknown) => {
    if (errnoOf(err) === 'ENOENT') {
      throw new FerryError('NOT_FOUND', `root directory '${resolved}' does not exist: create it first`, {
        root: resolved,
      });
    }
    throw hostError(err, `opening the root directory '${resolved}'`);
  });
  if (!stat.isDirectory()) {
    throw new FerryError('INVALID_ARGUMENT', `root '${resolved}' is not a directory: give a directory path`);
  }
  return resolved;
}

/** pread until `target` is full or the end of file (a short read happens only at the end). */
export async function readFully(file: HostFile, offset: number, target: Uint8Array): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await file.read(target, done, target.length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** pwrite until all of `data` is written (the host may write less per call). */
export async function writeFully(file: HostFile, offset: number, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, offset + done);
    if (bytesWritten === 0)
      throw new FerryError('IO_ERROR', 'the host wrote 0 bytes: the disk may be failing');
    done += bytesWritten;
  }
}
