/**
 * RemoteFlatFs: the FlatFs interface served by a ferry server, over transfer messages.
 *
 * Why: the FUSE adapter and library users program against FlatFs; with this they get a remote
 * filesystem with the same semantics and error codes as a local backend (the same compliance suite
 * runs against it). Names and ranges are checked here first, so a bad call fails locally with the
 * same code the server would answer; large reads and writes are split into messages of at most
 * REMOTE_IO_CHUNK_BYTES, sent concurrently.
 *
 * @example
 * const client = await FerryClient.connect({ endpoint, address });
 * const fs = new RemoteFlatFs(client);
 * const h = await fs.create('notes.txt');
 * await fs.write(h, 0, Buffer.from('hello'));
 */
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { checkFileSize, checkIo } from '../../flatfs/args.js';
import { validateName } from '../../flatfs/names.js';
import type {
  CreateOptions,
  FileHandle,
  FileStat,
  FlatFs,
  FsStat,
  ListOptions,
  ListPage,
  OpenOptions,
} from '../../flatfs/types.js';
import { encodeRequest, HEADER_BYTES } from '../../wire/transfer/index.js';
import type { FerryClient } from '../client/client.js';
import { listPageOf, listRequestOf } from '../client/list-request.js';
import { CHUNK_BYTES, inChunks, NO_BYTES, pieceOf } from './chunks.js';

export interface RemoteFlatFsOptions {
  /** Close the client session when the filesystem is closed (default true). */
  ownsClient?: boolean;
}

export class RemoteFlatFs implements FlatFs {
  readonly readOnly: boolean;
  private closed = false;
  private readonly handles = new Set<number>();

  constructor(
    private readonly client: FerryClient,
    private readonly opts: RemoteFlatFsOptions = {},
  ) {
    this.readOnly = client.server.readOnly;
  }

  private get rpc(): FerryClient['rpc'] {
    if (this.closed) throw new FerryError('CLOSED', 'the remote filesystem was closed');
    return this.client.rpc;
  }

  private checkHandle(handle: FileHandle): void {
    if (this.closed) throw new FerryError('CLOSED', 'the remote filesystem was closed');
    if (!this.handles.has(handle)) throw new FerryError('BAD_HANDLE', `handle ${handle} is not open`);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new FerryError('READ_ONLY', 'the remote filesystem is read-only');
  }

  async create(name: string, opts: CreateOptions = {}): Promise<FileHandle> {
    const rpc = this.rpc;
    validateName(name);
    checkFileSize(opts.sizeBytes ?? 0);
    this.checkWritable();
    const r = await rpc.call('CREATE', {
      exclusive: opts.exclusive ? 1 : 0,
      sizeBytes: opts.sizeBytes ?? 0,
      name,
    });
    this.handles.add(r.handle);
    return r.handle;
  }

  async open(name: string, opts: OpenOptions = {}): Promise<FileHandle> {
    const rpc = this.rpc;
    validateName(name);
    if (opts.write) this.checkWritable();
    const r = await rpc.call('OPEN', { write: opts.write ? 1 : 0, name });
    this.handles.add(r.handle);
    return r.handle;
  }

  async closeFile(handle: FileHandle): Promise<void> {
    this.checkHandle(handle);
    this.handles.delete(handle);
    await this.rpc.call('CLOSE', { handle });
  }

  async stat(name: string): Promise<FileStat> {
    const rpc = this.rpc;
    validateName(name);
    return rpc.call('STAT', { name });
  }

  async fstat(handle: FileHandle): Promise<FileStat> {
    this.checkHandle(handle);
    return this.rpc.call('FSTAT', { handle });
  }

  async list(opts: ListOptions = {}): Promise<ListPage> {
    const rpc = this.rpc;
    const limit = Math.min(opts.limit ?? LIMITS.MAX_LIST_PAGE, LIMITS.MAX_LIST_PAGE);
    return listPageOf(await rpc.call('LIST', listRequestOf(opts, limit)));
  }

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    checkIo(offset, length);
    const target = Buffer.allocUnsafe(length);
    const n = await this.readInto(handle, offset, target);
    return n === length ? target : target.subarray(0, n);
  }

  /** Reads in chunks, concurrently, each reply copied straight into its place in `target`. */
  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    checkIo(offset, target.length);
    this.checkHandle(handle);
    const rpc = this.rpc;
    const read = (at: number, length: number): Promise<number> =>
      rpc.request(
        'READ',
        (id) => [encodeRequest('READ', id, { handle, offset: offset + at, length })],
        'unordered',
        (payload) => {
          const data = payload.subarray(HEADER_BYTES);
          if (data.length > length) throw new FerryError('PROTOCOL_ERROR', 'read reply longer than asked');
          target.set(data, at);
          return data.length;
        },
      );
    const counts = await inChunks(target.length, read, true);
    // short only at end of file: the bytes are those of the chunks up to the first short one
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      total += counts[i]!;
      if (counts[i]! < Math.min(CHUNK_BYTES, target.length - i * CHUNK_BYTES)) break;
    }
    return total;
  }

  async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    checkData(data);
    checkIo(offset, data.length);
    this.checkHandle(handle);
    const rpc = this.rpc;
    if (data.length === 0) {
      await rpc.call('WRITE', { handle, offset, data: Buffer.alloc(0) });
      return;
    }
    await inChunks(data.length, (at, length) =>
      rpc.callLending('WRITE', { handle, offset: offset + at, data: NO_BYTES }, pieceOf(data, at, length)),
    );
  }

  async append(handle: FileHandle, data: Uint8Array): Promise<number> {
    checkData(data);
    checkIo(0, data.length);
    this.checkHandle(handle);
    const r = await this.rpc.call('APPEND', {
      handle,
      data: Buffer.from(data.buffer, data.byteOffset, data.length),
    });
    return r.offset;
  }

  async truncate(name: string, sizeBytes: number): Promise<void> {
    const rpc = this.rpc;
    validateName(name);
    checkFileSize(sizeBytes);
    this.checkWritable();
    await rpc.call('TRUNCATE', { sizeBytes, name });
  }

  async ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    this.checkHandle(handle);
    checkFileSize(sizeBytes);
    await this.rpc.call('FTRUNCATE', { handle, sizeBytes });
  }

  async rename(from: string, to: string): Promise<void> {
    const rpc = this.rpc;
    validateName(from);
    validateName(to);
    this.checkWritable();
    await rpc.call('RENAME', { from, to });
  }

  async unlink(name: string): Promise<void> {
    const rpc = this.rpc;
    validateName(name);
    this.checkWritable();
    await rpc.call('UNLINK', { name });
  }

  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    const rpc = this.rpc;
    validateName(name);
    if (!Number.isFinite(atimeMs) || !Number.isFinite(mtimeMs)) {
      throw new FerryError('INVALID_ARGUMENT', `times must be finite numbers, got ${atimeMs}, ${mtimeMs}`);
    }
    this.checkWritable();
    await rpc.call('SET_TIMES', { atimeMs, mtimeMs, name });
  }

  async fsync(handle: FileHandle): Promise<void> {
    this.checkHandle(handle);
    await this.rpc.call('FSYNC', { handle });
  }

  async statfs(): Promise<FsStat> {
    const r = await this.rpc.call('STATFS', {});
    return { ...r, readOnly: r.readOnly === 1 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const rpc = this.client.rpc;
    const open = [...this.handles];
    this.handles.clear();
    await Promise.all(open.map((handle) => rpc.call('CLOSE', { handle }).catch(() => undefined)));
    this.closed = true;
    if (this.opts.ownsClient !== false) await this.client.close();
  }
}

function checkData(data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new FerryError('INVALID_ARGUMENT', 'data must be a Buffer or Uint8Array');
  }
}
