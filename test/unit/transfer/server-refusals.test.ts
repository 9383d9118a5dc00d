/**
 * The server's answers to bad and hostile requests, over the fake network: typed errors, nothing
 * changed, and the server keeps serving. Also end-to-end verification: a block corrupted above the
 * transport is refused and re-sent; a wrong whole-file hash fails the copy and leaves no file.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { isFerryError } from '../../../src/core/errors.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { FerryClient } from '../../../src/transfer/client/client.js';
import { TransferServer } from '../../../src/transfer/server/transfer-server.js';
import { bufferSource } from '../../../src/transfer/client/sources.js';
import { listPageOf } from '../../../src/transfer/client/list-request.js';
import {
  BLOCK_HEADER_BYTES,
  MESSAGES,
  STATUS_OK,
  decodeReply,
  writeBlockHeader,
  writeHeader,
} from '../../../src/wire/transfer/index.js';
import { FakeNetwork, type FakeNetworkOptions } from '../../helpers/fake-endpoint.js';
import { serveOnFakeNetwork } from '../../helpers/fake-server.js';

test.before(async () => {
  await initChecksums();
});

async function setup(t: import('ava').ExecutionContext, opts: FakeNetworkOptions = {}) {
  const fs = new MemoryFlatFs({ quotaBytes: 64 * 1024 * 1024 });
  return { fs, ...(await serveOnFakeNetwork(t, fs, {}, opts)) };
}

async function allNames(fs: MemoryFlatFs): Promise<string[]> {
  return (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
}

function block(id: number, transferId: number, offset: number, data: Buffer, hash = xxh64(data)): Buffer[] {
  const h = Buffer.alloc(BLOCK_HEADER_BYTES);
  writeBlockHeader(h, MESSAGES.UPLOAD_BLOCK.type, id, transferId, offset, hash);
  return [h, data];
}

test('upload requests out of range, misaligned, unknown or early get typed errors and change nothing', async (t) => {
  const { client, fs } = await setup(t);
  const rpc = client.rpc;
  const begin = await rpc.call('UPLOAD_BEGIN', {
    sizeBytes: 10_000,
    blockBytes: 4096,
    fileMode: 0o644,
    sourceTag: 1n,
    resume: 0,
    name: 'f',
  });
  const data = randomBytes(4096);
  const send = (offset: number, d: Buffer, hash?: bigint, transferId = begin.transferId) =>
    rpc.request(
      'UPLOAD_BLOCK',
      (id) => block(id, transferId, offset, d, hash),
      'unordered',
      () => undefined,
    );
  const expect = async (p: Promise<unknown>, code: string) => {
    const e = await t.throwsAsync(p);
    t.true(isFerryError(e) && e.code === code, `${code}: ${String(e)}`);
  };
  await expect(send(16384, data), 'OUT_OF_RANGE');
  await expect(send(100, data), 'OUT_OF_RANGE');
  await expect(send(8192, data), 'OUT_OF_RANGE'); // the last block is 1808 bytes, not 4096
  await expect(send(0, data, 123n), 'HASH_MISMATCH');
  await expect(send(0, data, undefined, 999), 'UNKNOWN_TRANSFER');
  await expect(
    rpc.call('UPLOAD_COMMIT', { transferId: begin.transferId, fileHash: 0n, verify: 1 }),
    'PROTOCOL_ERROR',
  );
  await expect(
    rpc.call('UPLOAD_BEGIN', {
      sizeBytes: 10,
      blockBytes: 3000,
      fileMode: 0,
      sourceTag: 0n,
      resume: 0,
      name: 'g',
    }),
    'INVALID_ARGUMENT',
  );
  await expect(
    rpc.call('UPLOAD_BEGIN', {
      sizeBytes: 2 ** 50,
      blockBytes: 4096,
      fileMode: 0,
      sourceTag: 0n,
      resume: 0,
      name: 'g',
    }),
    'OUT_OF_RANGE',
  );
  t.false((await allNames(fs)).includes('f'), 'nothing published');
  t.false((await allNames(fs)).includes('g'));
});

test('a wrong whole-file hash fails the commit with HASH_MISMATCH and leaves no file behind', async (t) => {
  const { client, fs } = await setup(t);
  const rpc = client.rpc;
  const data = randomBytes(5000);
  const begin = await rpc.call('UPLOAD_BEGIN', {
    sizeBytes: 5000,
    blockBytes: 4096,
    fileMode: 0,
    sourceTag: 1n,
    resume: 0,
    name: 'h',
  });
  for (const off of [4096, 0]) {
    const d = data.subarray(off, Math.min(5000, off + 4096));
    await rpc.request(
      'UPLOAD_BLOCK',
      (id) => block(id, begin.transferId, off, Buffer.from(d)),
      'unordered',
      () => undefined,
    );
  }
  const e = await t.throwsAsync(
    rpc.call('UPLOAD_COMMIT', { transferId: begin.transferId, fileHash: xxh64(data) ^ 1n, verify: 1 }),
  );
  t.true(isFerryError(e, 'HASH_MISMATCH'), String(e));
  t.deepEqual(await allNames(fs), [], 'no file, no part file, no journal');
});

test('a block corrupted above the transport is refused and re-sent; the copy completes', async (t) => {
  let corrupted = 0;
  const { client, fs, server } = await setup(t, {
    tamper: (bytes) => {
      if (
        bytes[0] === MESSAGES.UPLOAD_BLOCK.type &&
        corrupted < 3 &&
        bytes.length > BLOCK_HEADER_BYTES + 10
      ) {
        bytes[BLOCK_HEADER_BYTES + 5]! ^= 0xff;
        corrupted++;
      }
    },
  });
  const data = randomBytes(200_000);
  const st = await client.upload(bufferSource(data), 'c', { blockBytes: 16384 });
  t.is(st.blocksResent, 3);
  t.is(server.stats.blocksRefused, 3);
  const h = await fs.open('c');
  t.true((await fs.read(h, 0, data.length)).equals(data));
  await fs.closeFile(h);
});

test('random junk messages get error replies or are dropped; the server keeps serving', async (t) => {
  const { client } = await setup(t);
  const rpc = client.rpc;
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 64 }),
      fc.integer({ min: 0, max: 0x7f }),
      async (body, type) => {
        const run = rpc.request(
          'PING',
          (id) => {
            const h = Buffer.from([type, 1, 0, 0, 0, 0, 0, 0]);
            h.writeUInt32LE(id, 4);
            return [h, Buffer.from(body)];
          },
          'unordered',
          () => 'ok',
        );
        await run.catch((e: unknown) => {
          if (!isFerryError(e)) throw e;
        });
      },
    ),
    { numRuns: 300, seed: 4242 },
  );
  t.is((await rpc.call('PING', {})).readOnly, 0);
  const st = await client.upload(bufferSource(Buffer.from('after the junk')), 'still-ok');
  t.is(st.bytes, 14);
});

test('too many transfers per peer is LIMIT_EXCEEDED', async (t) => {
  const { client } = await setup(t);
  const opened = [];
  for (let i = 0; i < 64; i++) {
    opened.push(
      await client.rpc.call('APPEND_BEGIN', { fileMode: 0, sourceTag: 0n, resume: 0, name: `a${i}` }),
    );
  }
  const e = await t.throwsAsync(
    client.rpc.call('APPEND_BEGIN', { fileMode: 0, sourceTag: 0n, resume: 0, name: 'one-more' }),
  );
  t.true(isFerryError(e, 'LIMIT_EXCEEDED'), String(e));
  t.is(opened.length, 64);
});

test('a journal flush still running when the commit arrives leaves no journal behind', async (t) => {
  const net = new FakeNetwork();
  const mem = new MemoryFlatFs({ quotaBytes: 64 * 1024 * 1024 });
  // a slow fsync keeps the flush that the last block triggers running while the commit comes in
  const slow = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'fsync') {
        return async (h: number) => {
          await new Promise((r) => setTimeout(r, 30));
          return target.fsync(h);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const sep = net.create();
  const server = new TransferServer({ endpoint: sep, fs: slow });
  const cep = net.create();
  const client = await FerryClient.connect({ endpoint: cep, address: sep.address });
  t.teardown(async () => {
    await client.close();
    await server.close();
    await cep.close();
    await sep.close();
    await mem.close();
  });
  for (let round = 0; round < 3; round++) {
    const data = randomBytes(256 * 4096);
    await client.upload(bufferSource(data, BigInt(round + 1)), `j${round}`, {
      blockBytes: 4096,
      windowBlocks: 64,
    });
    t.deepEqual(
      (await mem.list({ includeHidden: true })).entries.map((e) => e.name).filter((n) => n.startsWith('.')),
      [],
      `round ${round}`,
    );
  }
});

test('LIST: a folder cursor and a prefix are served; bad cursors, prefixes and delimiters are refused; the old layout still lists', async (t) => {
  const { client, fs } = await setup(t);
  for (const name of ['a/x', 'a/y/z', 'b']) await fs.closeFile(await fs.create(name));
  const rpc = client.rpc;
  const call = (fields: { cursor?: string; prefix?: string; delimiter?: string }) =>
    rpc.call('LIST', { limit: 0, includeHidden: 0, cursor: '', prefix: '', delimiter: '', ...fields });
  const page = listPageOf(await call({ prefix: 'a/', delimiter: '/' }));
  t.deepEqual(
    page.entries.map((e) => e.name),
    ['a/x'],
  );
  t.deepEqual(page.prefixes, ['a/y/']);
  const after = listPageOf(await call({ cursor: 'a/', delimiter: '/' }));
  t.deepEqual(
    after.entries.map((e) => e.name),
    ['b'],
    'with the delimiter, a folder cursor skips the folder',
  );
  t.deepEqual(after.prefixes, []);
  for (const cursor of ['a//b', '/a', '../x', 'a/./b/']) {
    t.true(isFerryError(await t.throwsAsync(call({ cursor })), 'BAD_NAME'), `cursor ${cursor}`);
  }
  t.true(isFerryError(await t.throwsAsync(call({ cursor: '.ferry~part/' })), 'BAD_NAME'), 'hidden cursor');
  t.true(isFerryError(await t.throwsAsync(call({ prefix: 'x'.repeat(1025) })), 'NAME_TOO_LONG'));
  t.true(isFerryError(await t.throwsAsync(call({ prefix: 'a\0' })), 'BAD_NAME'));
  t.true(isFerryError(await t.throwsAsync(call({ delimiter: ',' })), 'INVALID_ARGUMENT'));
  // a request in the layout before prefix and delimiter: limit u32, includeHidden u8, cursor str
  const names = await rpc.request(
    'LIST',
    (id) => {
      const old = Buffer.alloc(8 + 4 + 1 + 2);
      writeHeader(old, MESSAGES.LIST.type, 0, STATUS_OK, id);
      return [old];
    },
    'unordered',
    (payload) => listPageOf(decodeReply('LIST', payload)).entries.map((e) => e.name),
  );
  t.deepEqual(names, ['a/x', 'a/y/z', 'b']);
});
