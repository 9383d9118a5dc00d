/**
 * The server's download read buffers are shared fairly: a client that asks for reads and then stops
 * taking the replies (its receive path stalled) holds at most SERVER_READ_BUFFERS_PER_PEER of them,
 * so another client's download still completes; and at SERVER_READ_RELEASE_MS its buffers are taken
 * back, its downloads failed and its session ended.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { initChecksums } from '../../../src/core/checksum.js';
import { ManualClock } from '../../../src/core/clock.js';
import { TRANSFER_LIMITS } from '../../../src/core/limits.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { FerryClient } from '../../../src/transfer/client/client.js';
import { bufferSink } from '../../../src/transfer/client/sources.js';
import { TransferServer } from '../../../src/transfer/server/transfer-server.js';
import { MESSAGES, REPLY_BIT, encodeRequest } from '../../../src/wire/transfer/index.js';
import { FakeNetwork } from '../../helpers/fake-endpoint.js';

const FILE_BYTES = 1 << 20;
const READ_BYTES = 64 * 1024;
/** More reads than the whole pool holds. */
const STALLED_READS = TRANSFER_LIMITS.SERVER_READ_BUFFERS + 8;

test.before(() => initChecksums());

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

async function setup(t: import('ava').ExecutionContext) {
  const net = new FakeNetwork({ maxQueuedMessages: 1024 });
  const fs = new MemoryFlatFs({ quotaBytes: 64 * 1024 * 1024 });
  const data = randomBytes(FILE_BYTES);
  const h = await fs.create('big', { sizeBytes: data.length });
  await fs.write(h, 0, data);
  await fs.closeFile(h);
  const clock = new ManualClock();
  const lines: string[] = [];
  const sep = net.create();
  const server = new TransferServer({ endpoint: sep, fs, clock, log: (l) => lines.push(l) });
  const stalledEp = net.create();
  const stalled = await FerryClient.connect({ endpoint: stalledEp, address: sep.address });
  const goodEp = net.create();
  const good = await FerryClient.connect({ endpoint: goodEp, address: sep.address });
  t.teardown(async () => {
    await good.close();
    await stalled.close();
    await server.close();
    for (const ep of [goodEp, stalledEp, sep]) await ep.close();
    await fs.close();
  });
  // The stalled client opens a download, stops taking packets, then asks for more reads than the pool holds.
  const open = await stalled.rpc.call('DOWNLOAD_OPEN', { name: 'big' });
  stalledEp.stalled = true;
  for (let i = 0; i < STALLED_READS; i++) {
    const offset = (i * READ_BYTES) % FILE_BYTES;
    const req = encodeRequest('DOWNLOAD_READ', 1_000_000 + i, {
      transferId: open.transferId,
      offset,
      length: READ_BYTES,
    });
    stalledEp.trySend(stalled.peer, [req]);
  }
  await turns(50);
  return { data, server, sep, good, stalled, stalledEp, clock, lines };
}

function readRepliesSent(sep: { sentByType: Map<number, number> }): number {
  return sep.sentByType.get(MESSAGES.DOWNLOAD_READ.type | REPLY_BIT) ?? 0;
}

test('a client that stops taking replies cannot stall another client download', async (t) => {
  const { data, sep, good } = await setup(t);
  t.is(
    readRepliesSent(sep),
    TRANSFER_LIMITS.SERVER_READ_BUFFERS_PER_PEER,
    'the stalled peer holds its share of the read buffers, no more',
  );
  const target = Buffer.alloc(data.length);
  const done = good.download('big', async () => bufferSink(target), { blockBytes: READ_BYTES });
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((r) => (timer = setTimeout(() => r('stuck'), 20_000)));
  const outcome = await Promise.race([done.then(() => 'done' as const), stuck]);
  clearTimeout(timer);
  t.is(outcome, 'done', 'the other client download completes while the stalled one holds its buffers');
  t.true(target.equals(data));
});

test('read buffers whose replies are not received by the deadline are taken back and the peer is ended', async (t) => {
  const { data, server, good, stalled, clock, lines } = await setup(t);
  t.is(server.stats.readBuffersReclaimed, 0);
  clock.advance(TRANSFER_LIMITS.SERVER_READ_RELEASE_MS - 1);
  t.is(server.stats.readBuffersReclaimed, 0, 'nothing is taken back before the deadline');
  clock.advance(1);
  t.is(server.stats.readBuffersReclaimed, TRANSFER_LIMITS.SERVER_READ_BUFFERS_PER_PEER);
  await turns(20);
  t.not(stalled.peer.state, 'connected', 'the stalled peer session is ended');
  t.true(lines.some((l) => l.includes('download "big"') && l.includes('not received in time')));
  // The pool is whole again: a download as wide as the pool completes.
  const target = Buffer.alloc(data.length);
  await good.download('big', async () => bufferSink(target), {
    blockBytes: READ_BYTES,
    windowBlocks: TRANSFER_LIMITS.SERVER_READ_BUFFERS,
  });
  t.true(target.equals(data));
});
