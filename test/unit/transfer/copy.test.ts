import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { initChecksums } from '../../../src/core/checksum.js';
import { isFerryError } from '../../../src/core/errors.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { HIDDEN_PREFIX } from '../../../src/flatfs/types.js';
import { FerryClient } from '../../../src/transfer/client/client.js';
import { TransferServer } from '../../../src/transfer/server/transfer-server.js';
import { bufferSink, bufferSource } from '../../../src/transfer/client/sources.js';
import { FakeNetwork } from '../../helpers/fake-endpoint.js';

test.before(async () => {
  await initChecksums();
});

async function setup(t: import('ava').ExecutionContext, seed?: number) {
  const net = new FakeNetwork(seed === undefined ? {} : { reorderSeed: seed });
  const fs = new MemoryFlatFs({ quotaBytes: 256 * 1024 * 1024 });
  const serverEp = net.create({ port: 7000 });
  const lines: string[] = [];
  const server = new TransferServer({ endpoint: serverEp, fs, log: (l) => lines.push(l) });
  const clientEp = net.create();
  const client = await FerryClient.connect({ endpoint: clientEp, address: serverEp.address });
  t.teardown(async () => {
    await client.close();
    await server.close();
    await clientEp.close();
    await serverEp.close();
    await fs.close();
  });
  return { net, fs, server, serverEp, client, clientEp, lines };
}

for (const seed of [undefined, 1, 2]) {
  test(`upload then download is byte-identical (reorder seed ${seed})`, async (t) => {
    const { client, fs, lines } = await setup(t, seed);
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const up = await client.upload(bufferSource(data), 'file.bin', {
      blockBytes: 64 * 1024,
      windowBlocks: 8,
    });
    t.is(up.bytes, data.length);
    t.is(up.blocksSent, Math.ceil(data.length / 65536));
    t.is((await fs.stat('file.bin')).sizeBytes, data.length);
    const names = (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
    t.deepEqual(names, ['file.bin'], 'no part file or journal left');
    const out = Buffer.alloc(data.length);
    const down = await client.download('file.bin', async () => bufferSink(out), { blockBytes: 64 * 1024 });
    t.true(out.equals(data));
    t.is(down.fileHash, up.fileHash);
    t.true(lines.some((l) => l.includes('upload "file.bin"') && l.includes('result=ok')));
  });
}

test('empty file uploads and downloads', async (t) => {
  const { client } = await setup(t);
  await client.upload(bufferSource(Buffer.alloc(0)), 'empty');
  t.is((await client.stat('empty')).sizeBytes, 0);
  const out = Buffer.alloc(0);
  await client.download('empty', async () => bufferSink(out));
});

test('append sequence from a stream', async (t) => {
  const { client, fs } = await setup(t, 3);
  const data = randomBytes(1_000_003);
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 7777) yield data.subarray(i, i + 7777);
    })(),
  );
  const st = await client.uploadAppend({ stream }, 'piped', { blockBytes: 64 * 1024 });
  t.is(st.bytes, data.length);
  const h = await fs.open('piped');
  t.true((await fs.read(h, 0, data.length + 10)).equals(data));
  await fs.closeFile(h);
});

test('resume sends only the blocks the server lacks', async (t) => {
  const { client, server } = await setup(t);
  const data = randomBytes(2 * 1024 * 1024);
  const ac = new AbortController();
  let acked = 0;
  await t.throwsAsync(
    client.upload(bufferSource(data, 42n), 'r.bin', {
      blockBytes: 64 * 1024,
      windowBlocks: 4,
      signal: ac.signal,
      onProgress: () => {
        if (++acked === 10) ac.abort();
      },
    }),
  );
  t.false((await client.listAll()).some((e) => e.name === 'r.bin'));
  const before = server.stats.blocksWritten;
  const st = await client.upload(bufferSource(data, 42n), 'r.bin', { blockBytes: 64 * 1024, resume: true });
  t.true(st.resumed);
  t.true(st.blocksSkipped >= 10, `skipped ${st.blocksSkipped}`);
  t.is(st.blocksSent + st.blocksSkipped, 32);
  t.is(server.stats.blocksWritten - before, st.blocksSent);
  const out = Buffer.alloc(data.length);
  await client.download('r.bin', async () => bufferSink(out));
  t.true(out.equals(data));
});

test('bad names, hidden names and unknown requests get typed errors; server keeps serving', async (t) => {
  const { client } = await setup(t);
  for (const [name, code] of [
    ['a//b', 'BAD_NAME'],
    ['..', 'BAD_NAME'],
    [`${HIDDEN_PREFIX}x.part`, 'BAD_NAME'],
    ['x'.repeat(300), 'NAME_TOO_LONG'],
  ] as const) {
    const e = await t.throwsAsync(client.upload(bufferSource(Buffer.from('x')), name));
    t.true(isFerryError(e, code), `${name}: ${String(e)}`);
  }
  const e = await t.throwsAsync(client.stat('missing'));
  t.true(isFerryError(e, 'NOT_FOUND'));
  const raw = (id: number) => {
    const b = Buffer.from([0x7e, 1, 0, 0, 0, 0, 0, 0]);
    b.writeUInt32LE(id, 4);
    return [b];
  };
  const err = await t.throwsAsync(client.rpc.request('PING', raw, 'unordered', () => undefined));
  t.true(isFerryError(err, 'UNKNOWN_REQUEST'), String(err));
  const bad = await t.throwsAsync(
    client.rpc.request(
      'STAT',
      (id) => {
        const b = Buffer.from([0x03, 1, 0, 0, 0, 0, 0, 0, 200, 0]);
        b.writeUInt32LE(id, 4);
        return [b];
      },
      'unordered',
      () => undefined,
    ),
  );
  t.true(isFerryError(bad, 'MALFORMED'), String(bad));
  await client.upload(bufferSource(Buffer.from('still fine')), 'ok');
  t.is((await client.stat('ok')).sizeBytes, 10);
});

test('quota overrun and read-only refusal', async (t) => {
  const net = new FakeNetwork();
  const fs = new MemoryFlatFs({ quotaBytes: 1024 * 1024 });
  const sep = net.create();
  const server = new TransferServer({ endpoint: sep, fs });
  const rosep = net.create();
  const roServer = new TransferServer({ endpoint: rosep, fs, readOnly: true });
  const cep = net.create();
  const client = await FerryClient.connect({ endpoint: cep, address: sep.address });
  const ro = await FerryClient.connect({ endpoint: cep, address: rosep.address });
  t.teardown(async () => {
    await client.close();
    await ro.close();
    await server.close();
    await roServer.close();
    await cep.close();
    await sep.close();
    await rosep.close();
  });
  const e = await t.throwsAsync(client.upload(bufferSource(Buffer.alloc(2 * 1024 * 1024)), 'big'));
  t.true(isFerryError(e, 'NO_SPACE'), String(e));
  const r = await t.throwsAsync(ro.upload(bufferSource(Buffer.from('x')), 'x'));
  t.true(isFerryError(r, 'READ_ONLY'), String(r));
  t.deepEqual(await ro.listAll(), []);
});

test('an append sequence from a file resumes from the last applied chunk', async (t) => {
  const { client, fs } = await setup(t);
  const data = randomBytes(1_500_000);
  const ac = new AbortController();
  let acks = 0;
  await t.throwsAsync(
    client.uploadAppend({ source: bufferSource(data, 77n) }, 'app.bin', {
      blockBytes: 64 * 1024,
      windowBlocks: 2,
      signal: ac.signal,
      onProgress: () => {
        if (++acks === 5) ac.abort();
      },
    }),
  );
  t.false(
    (await fs.list()).entries.some((e) => e.name === 'app.bin'),
    'nothing published yet',
  );
  const st = await client.uploadAppend({ source: bufferSource(data, 77n) }, 'app.bin', {
    blockBytes: 64 * 1024,
    resume: true,
  });
  t.true(st.resumed);
  t.true(st.blocksSkipped >= 5, `skipped ${st.blocksSkipped}`);
  t.is(st.blocksSkipped + st.blocksSent, Math.ceil(data.length / 65536));
  const h = await fs.open('app.bin');
  t.true((await fs.read(h, 0, data.length + 1)).equals(data));
  await fs.closeFile(h);
});

test('a resume of a different source version starts over', async (t) => {
  const { client } = await setup(t);
  const a = randomBytes(300_000);
  const ac = new AbortController();
  await t.throwsAsync(
    client.upload(bufferSource(a, 1n), 'v.bin', {
      blockBytes: 16384,
      windowBlocks: 2,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    }),
  );
  const b = randomBytes(300_000);
  const st = await client.upload(bufferSource(b, 2n), 'v.bin', { blockBytes: 16384, resume: true });
  t.false(st.resumed, 'the journal of another version is not used');
  t.is(st.blocksSkipped, 0);
  const out = Buffer.alloc(b.length);
  await client.download('v.bin', async () => bufferSink(out));
  t.true(out.equals(b));
});
