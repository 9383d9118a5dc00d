/**
 * RemoteFlatFs and RemoteBlockDevice run the storage compliance suites against a live TransferServer
 * over the in-memory fake network (the integration tests run them over real UDP on loopback).
 */
import { initChecksums } from '../../../src/core/checksum.js';
import { MemoryBlockDevice } from '../../../src/blockdev/memory.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { GiB } from '../../../src/core/limits.js';
import { FerryClient } from '../../../src/transfer/client/client.js';
import { RemoteBlockDevice } from '../../../src/transfer/remote/remote-blockdev.js';
import { RemoteFlatFs } from '../../../src/transfer/remote/remote-flatfs.js';
import { TransferServer } from '../../../src/transfer/server/transfer-server.js';
import { FakeNetwork } from '../../helpers/fake-endpoint.js';
import { blockDeviceCompliance } from '../blockdev/compliance.js';
import { flatFsCompliance } from '../flatfs/compliance.js';

await initChecksums();

flatFsCompliance(
  'remote (fake network)',
  async (opts) => {
    const net = new FakeNetwork({ reorderSeed: 7 });
    const backing = new MemoryFlatFs({
      quotaBytes: opts.quotaBytes ?? 64 * GiB,
      readOnly: opts.readOnly ?? false,
      files: opts.files ?? [],
    });
    const sep = net.create();
    const server = new TransferServer({ endpoint: sep, fs: backing, exposeHidden: true });
    const cep = net.create();
    const client = await FerryClient.connect({ endpoint: cep, address: sep.address });
    const fs = new RemoteFlatFs(client);
    return {
      fs,
      cleanup: async () => {
        await fs.close();
        await server.close();
        await cep.close();
        await sep.close();
        await backing.close();
      },
    };
  },
  { prefixListing: true },
);

blockDeviceCompliance(
  'remote (fake network)',
  async (opts) => {
    const net = new FakeNetwork({ reorderSeed: 9 });
    const backing = new MemoryBlockDevice({ sizeBytes: opts.sizeBytes, readOnly: opts.readOnly ?? false });
    const sep = net.create();
    const server = new TransferServer({ endpoint: sep, devices: new Map([['disk', backing]]) });
    const cep = net.create();
    const client = await FerryClient.connect({ endpoint: cep, address: sep.address });
    const dev = await RemoteBlockDevice.open(client, 'disk', { ownsClient: true });
    return {
      dev,
      cleanup: async () => {
        if (!dev.closed) await dev.close();
        await server.close();
        await cep.close();
        await sep.close();
        await backing.close();
      },
    };
  },
  { reportsHoles: true, modelRuns: 20 },
);
