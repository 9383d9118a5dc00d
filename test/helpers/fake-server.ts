/**
 * A TransferServer on a FakeNetwork and a FerryClient connected to it: what the transfer unit tests
 * that talk to a server through the real client build. Everything, `fs` included, is closed in the
 * test's teardown.
 */
import type { ExecutionContext } from 'ava';
import type { FlatFs } from '../../src/flatfs/types.js';
import { FerryClient } from '../../src/transfer/client/client.js';
import { TransferServer, type TransferServerOptions } from '../../src/transfer/server/transfer-server.js';
import { FakeNetwork, type FakeNetworkOptions } from './fake-endpoint.js';

export async function serveOnFakeNetwork(
  t: ExecutionContext,
  fs: FlatFs,
  serverOptions: Omit<TransferServerOptions, 'endpoint' | 'fs'> = {},
  networkOptions: FakeNetworkOptions = {},
): Promise<{ server: TransferServer; client: FerryClient }> {
  const net = new FakeNetwork(networkOptions);
  const sep = net.create();
  const server = new TransferServer({ ...serverOptions, endpoint: sep, fs });
  const cep = net.create();
  const client = await FerryClient.connect({ endpoint: cep, address: sep.address });
  t.teardown(async () => {
    await client.close();
    await server.close();
    await cep.close();
    await sep.close();
    await fs.close();
  });
  return { server, client };
}
