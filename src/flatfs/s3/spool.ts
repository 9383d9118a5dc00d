/**
 * Spool: the local copy of the slots of one open S3 file that were changed.
 *
 * Why on disk and not in memory: an upload of many GiB writes every slot once before it is closed,
 * and S3 cannot change an object in place, so the changed slots must be kept somewhere until their
 * parts are uploaded and the object is completed. A sparse temp file costs only the slots written;
 * memory stays flat whatever the file's size.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../core/errors.js';

export class Spool {
  private constructor(
    private readonly file: fsp.FileHandle,
    readonly filePath: string,
  ) {}

  static async create(dir: string, id: number): Promise<Spool> {
    const filePath = path.join(dir, `inode-${id}`);
    try {
      return new Spool(await fsp.open(filePath, 'w+', 0o600), filePath);
    } catch (err) {
      throw new FerryError(
        'IO_ERROR',
        `cannot create the S3 spool file ${filePath}: ${(err as Error).message}; check --s3-spool (free space, permissions)`,
      );
    }
  }

  /** Reads exactly `length` bytes at `position` into `target` at `at` (a sparse gap reads as zeros). */
  async read(position: number, target: Uint8Array, at: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(target, at + done, length - done, position + done);
      if (bytesRead === 0) {
        target.fill(0, at + done, at + length);
        return;
      }
      done += bytesRead;
    }
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  /** Cuts the spool at `sizeBytes` (slots past it read as zeros again). */
  async truncate(sizeBytes: number): Promise<void> {
    await this.file.truncate(sizeBytes);
  }

  async remove(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await fsp.rm(this.filePath, { force: true });
  }
}
