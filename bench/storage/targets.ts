/**
 * What a job runs against: the backend straight (`local`) or the same kind of backend behind a
 * ferry server (`remote`: RemoteBlockDevice / RemoteFlatFs over loopback UDP). Without --remote the
 * server is started here, in this process, on loopback, so one invocation measures both and the
 * ratio is what the network path costs.
 *
 * Both kinds look the same to the engine: `regions` equal areas (one per fio "numjob": a slice of the
 * device, or one file each on a filesystem), read and written by offset with caller-owned buffers.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  DirectoryFlatFs,
  FerryServer,
  FileBlockDevice,
  MemoryBlockDevice,
  MemoryFlatFs,
  openClient,
  RemoteBlockDevice,
  RemoteFlatFs,
  type BlockDevice,
  type FileHandle,
  type FlatFs,
} from '../../src/index.js';
import type { StorageBenchOptions } from './options.js';

/** Headroom of a memory backend's quota over the data it must hold (metadata jobs, copies). */
const QUOTA_SLACK_BYTES = 64 * 1024 * 1024;
/** The device name the in-process server exports. */
export const BENCH_DEVICE = 'bench';
const REGION_FILE_PREFIX = 'ferry-bench-job';

/** Offset-addressed I/O over `regions` areas of `regionBytes` each. */
export interface IoTarget {
  readonly regions: number;
  readonly regionBytes: number;
  readInto(region: number, offset: number, target: Uint8Array): Promise<unknown>;
  write(region: number, offset: number, data: Uint8Array): Promise<unknown>;
  /** Releases what open() took (files stay; the store is closed by its owner). */
  close(): Promise<void>;
}

/** A store to run jobs on: a block device or a flat filesystem, plus how to release it. */
export type Store =
  | { kind: 'blockdev'; dev: BlockDevice; close(): Promise<void> }
  | { kind: 'fs'; fs: FlatFs; close(): Promise<void> };

export async function openIoTarget(store: Store, regions: number, regionBytes: number): Promise<IoTarget> {
  if (store.kind === 'blockdev') return blockTarget(store.dev, regions, regionBytes);
  return fsTarget(store.fs, regions, regionBytes);
}

function blockTarget(dev: BlockDevice, regions: number, regionBytes: number): IoTarget {
  return {
    regions,
    regionBytes,
    readInto: (r, o, t) => dev.readInto(r * regionBytes + o, t),
    write: (r, o, d) => dev.write(r * regionBytes + o, d),
    close: async () => undefined,
  };
}

async function fsTarget(fs: FlatFs, regions: number, regionBytes: number): Promise<IoTarget> {
  const handles: FileHandle[] = [];
  for (let r = 0; r < regions; r++) {
    const name = `${REGION_FILE_PREFIX}${r}`;
    // Keep a file laid out by an earlier job; create it (sparse, full size) the first time.
    const h = await fs.open(name, { write: true }).catch(() => fs.create(name, { sizeBytes: regionBytes }));
    handles.push(h);
  }
  return {
    regions,
    regionBytes,
    readInto: (r, o, t) => fs.readInto(handles[r]!, o, t),
    write: (r, o, d) => fs.write(handles[r]!, o, d),
    close: async () => {
      for (const h of handles) await fs.closeFile(h).catch(() => undefined);
    },
  };
}

/** The backend straight, with no ferry in between. `dir` is a fresh folder this run owns. */
export async function openLocalStore(o: StorageBenchOptions, dir: string): Promise<Store> {
  const quotaBytes = o.sizeBytes + Math.max(o.copyBytes, 0) + QUOTA_SLACK_BYTES;
  if (o.kind === 'blockdev') {
    const dev =
      o.backend === 'memory'
        ? new MemoryBlockDevice({ sizeBytes: o.sizeBytes, memoryLimitBytes: o.sizeBytes })
        : await FileBlockDevice.open(path.join(dir, 'local.img'), { sizeBytes: o.sizeBytes, create: true });
    return { kind: 'blockdev', dev, close: () => dev.close() };
  }
  let fs: FlatFs;
  if (o.backend === 'memory') fs = new MemoryFlatFs({ quotaBytes });
  else {
    const root = path.join(dir, 'local-fs');
    await mkdir(root, { recursive: true });
    fs = await DirectoryFlatFs.open({ root });
  }
  return { kind: 'fs', fs, close: () => fs.close() };
}

/** A ferry server in this process on loopback, serving the same kind of backend as the local store. */
export async function startLocalServer(
  o: StorageBenchOptions,
  dir: string,
  impair: string | null = null,
): Promise<FerryServer> {
  const quotaBytes = o.sizeBytes + o.copyBytes + QUOTA_SLACK_BYTES;
  if (o.kind === 'blockdev') {
    const spec =
      o.backend === 'memory'
        ? `memory:${o.sizeBytes}`
        : `file:${path.join(dir, 'remote.img')}:${o.sizeBytes}`;
    await mkdir(dir, { recursive: true });
    return FerryServer.start({
      host: '127.0.0.1',
      devices: { [BENCH_DEVICE]: spec },
      discovery: false,
      impair,
      encrypt: o.encrypt,
    });
  }
  if (o.backend === 'memory')
    return FerryServer.start({
      host: '127.0.0.1',
      memory: true,
      quotaBytes,
      discovery: false,
      impair,
      encrypt: o.encrypt,
    });
  const root = path.join(dir, 'remote-fs');
  await mkdir(root, { recursive: true });
  return FerryServer.start({ host: '127.0.0.1', root, discovery: false, impair, encrypt: o.encrypt });
}

/** How the benchmark dials a server: its secret (null: none) and whether packets are sealed. */
export interface BenchDial {
  secret: string | null;
  encrypt: boolean;
}

/** The options of openClient for `dial`. */
export function dialOptions(dial: BenchDial): { secret?: string; encrypt?: boolean } {
  return {
    ...(dial.secret !== null ? { secret: dial.secret } : {}),
    ...(dial.encrypt ? {} : { encrypt: false }),
  };
}

/** Connects to a server and opens its device or filesystem; closing the store ends the session. */
export async function openRemoteStore(
  kind: StorageBenchOptions['kind'],
  host: string,
  port: number,
  device: string | null,
  impair: string | null = null,
  dial: BenchDial = { secret: null, encrypt: true },
): Promise<Store> {
  const client = await openClient({ host, port, impair, ...dialOptions(dial) });
  try {
    if (kind === 'blockdev') {
      const dev = await RemoteBlockDevice.open(client, device ?? BENCH_DEVICE, { ownsClient: true });
      return { kind: 'blockdev', dev, close: () => dev.close() };
    }
    const fs = new RemoteFlatFs(client, { ownsClient: true });
    return { kind: 'fs', fs, close: () => fs.close() };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}
