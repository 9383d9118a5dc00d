/**
 * Over real UDP on loopback: RemoteFlatFs and RemoteBlockDevice pass their storage compliance
 * suites against a live in-process FerryServer, and 8 clients copy at once.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  bufferSink,
  bufferSource,
  FerryServer,
  GiB,
  initChecksums,
  MemoryBlockDevice,
  MemoryFlatFs,
  openClient,
  RemoteBlockDevice,
  RemoteFlatFs,
} from '../../src/index.js';
import { blockDeviceCompliance } from '../unit/blockdev/compliance.js';
import { flatFsCompliance } from '../unit/flatfs/compliance.js';

await initChecksums();

flatFsCompliance('remote over UDP', async (opts) => {
  const backing = new MemoryFlatFs({
    quotaBytes: opts.quotaBytes ?? 64 * GiB,
    readOnly: opts.readOnly ?? false,
    files: opts.files ?? [],
  });
  const server = await FerryServer.start({ fs: backing, discovery: false, impair: null, exposeHidden: true });
  const client = await openClient({ host: '127.0.0.1', port: server.address.port, impair: null });
  const fs = new RemoteFlatFs(client);
  return {
    fs,
    cleanup: async () => {
      await fs.close();
      await server.close();
      await backing.close();
    },
  };
});

blockDeviceCompliance(
  'remote over UDP',
  async (opts) => {
    const backing = new MemoryBlockDevice({ sizeBytes: opts.sizeBytes, readOnly: opts.readOnly ?? false });
    const server = await FerryServer.start({ devices: { disk: backing }, discovery: false, impair: null });
    const client = await openClient({ host: '127.0.0.1', port: server.address.port, impair: null });
    const dev = await RemoteBlockDevice.open(client, 'disk', { ownsClient: true });
    return {
      dev,
      cleanup: async () => {
        if (!dev.closed) await dev.close();
        await server.close();
        await backing.close();
      },
    };
  },
  { reportsHoles: true, modelRuns: 20 },
);

test('8 clients copy up and down at once, each byte-identical', async (t) => {
  const server = await FerryServer.start({
    memory: true,
    quotaBytes: 1 * GiB,
    discovery: false,
    impair: null,
  });
  t.teardown(() => server.close());
  const runs = Array.from({ length: 8 }, async (_, i) => {
    const data = randomBytes(3 * 1024 * 1024 + i * 1000);
    const client = await openClient({ host: '127.0.0.1', port: server.address.port, impair: null });
    try {
      await client.upload(bufferSource(data), `client-${i}.bin`, { blockBytes: 128 * 1024 });
      const out = Buffer.alloc(data.length);
      await client.download(`client-${i}.bin`, async () => bufferSink(out));
      return out.equals(data);
    } finally {
      await client.close();
    }
  });
  t.deepEqual(await Promise.all(runs), Array(8).fill(true));
  t.is(server.server.stats.uploadsCommitted, 8);
  t.is(server.server.stats.downloadsServed, 8);
});
