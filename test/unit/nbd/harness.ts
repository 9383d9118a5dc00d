/**
 * Test plumbing for the NBD server: an in-process server on a Unix socket in a temp folder (closed
 * and removed in teardown), and a device wrapper that records calls and can hold them back.
 * Not a test file itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import {
  MemoryBlockDevice,
  NbdServer,
  type BlockDevice,
  type BlockExtent,
  type NbdServerOptions,
} from '../../../src/index.js';
import { RawNbdClient } from './raw-client.js';

export interface Harness {
  server: NbdServer;
  device: BlockDevice;
  socketPath: string;
  connect(): Promise<RawNbdClient>;
  /** Set by a test that makes server.close() fail on purpose, so teardown does not report it. */
  closeMayFail: boolean;
}

export async function startNbd(
  t: ExecutionContext,
  options: Partial<NbdServerOptions> = {},
  sizeBytes = 4 * 1024 * 1024,
): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-nbd-'));
  const socketPath = path.join(dir, 's.sock');
  const device = options.device ?? new MemoryBlockDevice({ sizeBytes });
  const server = await NbdServer.listen({ ...options, device }, { unix: socketPath });
  const clients: RawNbdClient[] = [];
  const h: Harness = {
    server,
    device,
    socketPath,
    closeMayFail: false,
    connect: async () => {
      const c = await RawNbdClient.connect(socketPath);
      clients.push(c);
      return c;
    },
  };
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.close().catch((err: unknown) => {
      if (!h.closeMayFail) throw err;
    });
    await device.close();
    await rm(dir, { recursive: true, force: true });
  });
  return h;
}

export type DeviceEvent = { op: string; phase: 'start' | 'done'; offset?: number; length?: number };

/**
 * A BlockDevice that forwards to another and records every call. When `hold` is true, calls wait
 * until `releaseAll()`; `maxConcurrent` is the most calls seen running at once.
 */
export class RecordingDevice implements BlockDevice {
  readonly events: DeviceEvent[] = [];
  hold = false;
  running = 0;
  maxConcurrent = 0;
  private held: (() => void)[] = [];

  constructor(private readonly inner: BlockDevice) {}

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get blockBytes(): number {
    return this.inner.blockBytes;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  releaseAll(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  get heldCount(): number {
    return this.held.length;
  }

  private async run<T>(op: string, fn: () => Promise<T>, offset?: number, length?: number): Promise<T> {
    this.events.push({ op, phase: 'start', offset, length });
    this.running++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running);
    try {
      if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
      return await fn();
    } finally {
      this.running--;
      this.events.push({ op, phase: 'done', offset, length });
    }
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.run('read', () => this.inner.read(offset, length), offset, length);
  }
  readInto(offset: number, target: Uint8Array): Promise<number> {
    return this.run('read', () => this.inner.readInto(offset, target), offset, target.length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.run('write', () => this.inner.write(offset, data), offset, data.length);
  }
  flush(): Promise<void> {
    return this.run('flush', () => this.inner.flush());
  }
  trim(offset: number, length: number): Promise<void> {
    return this.run('trim', () => this.inner.trim(offset, length), offset, length);
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.run('writeZeroes', () => this.inner.writeZeroes(offset, length), offset, length);
  }
  extents(offset: number, length: number): Promise<BlockExtent[]> {
    return this.run('extents', () => this.inner.extents(offset, length), offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
