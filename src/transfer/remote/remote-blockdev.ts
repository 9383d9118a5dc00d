/**
 * RemoteBlockDevice: the BlockDevice interface served by a ferry server, over transfer messages.
 *
 * Why: the NBD adapter and library users program against BlockDevice; this gives them a device on
 * another machine with the same semantics and error codes (the same compliance suite runs against
 * it). Requests carry ids and run concurrently, completing in any order; reads and writes are split
 * into messages of at most REMOTE_IO_CHUNK_BYTES; `flush` resolves only after the server's device
 * flush (durable) resolved.
 *
 * @example
 * const dev = await RemoteBlockDevice.open(client, 'disk0');
 * await dev.write(0, Buffer.alloc(4096, 1));
 * await dev.flush();
 */
import { FerryError } from '../../core/errors.js';
import { checkBytes, checkOpen, checkRange } from '../../blockdev/range.js';
import type { BlockDevice, BlockExtent } from '../../blockdev/types.js';
import { decodeExtents, encodeRequest, HEADER_BYTES } from '../../wire/transfer/index.js';
import type { FerryClient } from '../client/client.js';
import { inChunks, NO_BYTES, pieceOf } from './chunks.js';

export class RemoteBlockDevice implements BlockDevice {
  closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly client: FerryClient,
    private readonly device: number,
    readonly name: string,
    readonly sizeBytes: number,
    readonly blockBytes: number,
    readonly readOnly: boolean,
    private readonly ownsClient: boolean,
  ) {}

  /** Opens the server's device `name` (NOT_FOUND if it serves none of that name). */
  static async open(
    client: FerryClient,
    name: string,
    opts: { ownsClient?: boolean } = {},
  ): Promise<RemoteBlockDevice> {
    const r = await client.rpc.call('BD_OPEN', { name });
    return new RemoteBlockDevice(
      client,
      r.device,
      name,
      r.sizeBytes,
      r.blockBytes,
      r.readOnly === 1,
      opts.ownsClient === true,
    );
  }

  /** Tracks a request so close() can let it finish before the device handle goes away. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = (): void => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, 'read', offset, length);
    const target = Buffer.allocUnsafe(length);
    await this.track(this.readChunks(offset, target));
    return target;
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkBytes(this, 'readInto', target);
    checkRange(this, 'readInto', offset, target.length);
    await this.track(this.readChunks(offset, target));
    return target.length;
  }

  private async readChunks(offset: number, target: Uint8Array): Promise<void> {
    const rpc = this.client.rpc;
    const device = this.device;
    await inChunks(target.length, (at, length) =>
      rpc.request(
        'BD_READ',
        (id) => [encodeRequest('BD_READ', id, { device, offset: offset + at, length })],
        'unordered',
        (payload) => {
          const data = payload.subarray(HEADER_BYTES);
          if (data.length !== length)
            throw new FerryError(
              'PROTOCOL_ERROR',
              `device read returned ${data.length} bytes, asked ${length}`,
            );
          target.set(data, at);
        },
      ),
    );
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkBytes(this, 'write', data);
    checkRange(this, 'write', offset, data.length);
    const rpc = this.client.rpc;
    const device = this.device;
    await this.track(
      inChunks(data.length, (at, length) =>
        rpc.callLending(
          'BD_WRITE',
          { device, offset: offset + at, data: NO_BYTES },
          pieceOf(data, at, length),
        ),
      ),
    );
  }

  async flush(): Promise<void> {
    checkOpen(this, 'flush');
    await this.track(this.client.rpc.call('BD_FLUSH', { device: this.device }));
  }

  async trim(offset: number, length: number): Promise<void> {
    checkRange(this, 'trim', offset, length);
    await this.track(this.client.rpc.call('BD_TRIM', { device: this.device, offset, length }));
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    checkRange(this, 'writeZeroes', offset, length);
    await this.track(this.client.rpc.call('BD_ZERO', { device: this.device, offset, length }));
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    checkRange(this, 'extents', offset, length);
    const r = await this.track(this.client.rpc.call('BD_EXTENTS', { device: this.device, offset, length }));
    return decodeExtents(r.extents);
  }

  async close(): Promise<void> {
    checkOpen(this, 'close');
    this.closed = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.client.rpc.call('BD_CLOSE', { device: this.device }).catch(() => undefined);
    if (this.ownsClient) await this.client.close();
  }
}
