// The transmission phase: data in and out, errors per the spec with the connection still usable,
// FUA/FLUSH ordering, out-of-order replies, back-pressure, holes, block status, disconnects.
import test from 'ava';
import { MemoryBlockDevice, nbdProtocol as P } from '../../../src/index.js';
import { readU64 } from '../../../src/nbd/transmission-codec.js';
import { RecordingDevice, startNbd } from './harness.js';
import { readData, replyError, type RawNbdClient, type Reply } from './raw-client.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic bytes from a seed (xorshift32). */
function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function roundTrip(
  c: RawNbdClient,
  type: number,
  offset: number,
  length: number,
  flags = 0,
  payload?: Buffer,
): Promise<Reply> {
  c.request(type, offset, length, 77, flags, payload);
  return c.readReply(() => (type === P.NBD_CMD_READ ? length : 0));
}

async function expectError(
  t: import('ava').ExecutionContext,
  c: RawNbdClient,
  errno: number,
  type: number,
  offset: number,
  length: number,
  flags = 0,
  payload?: Buffer,
): Promise<void> {
  const r = await roundTrip(c, type, offset, length, flags, payload);
  t.is(replyError(r), errno, `command ${type} at ${offset}+${length} flags ${flags}`);
  if (c.structured) {
    t.is(r.kind, 'structured', 'errors are structured error chunks once negotiated');
    if (r.kind === 'structured') t.true(r.chunks[0]!.payload.readUInt16BE(4) > 0, 'with a message');
  }
}

for (const structured of [false, true]) {
  const mode = structured ? 'structured' : 'simple';

  test(`${mode}: pipelined writes and reads at many offsets come back byte for byte, matched by cookie`, async (t) => {
    const h = await startNbd(t, {}, 8 * MiB);
    const c = await h.connect();
    await c.negotiate({ structured });
    const seed = Date.now() >>> 0;
    t.log(`seed ${seed}`);
    const ops = Array.from({ length: 64 }, (_, i) => ({
      offset: i * 100_003,
      length: 1 + ((i * 7919) % 200_000),
      i,
    }));
    for (const o of ops)
      c.request(P.NBD_CMD_WRITE, o.offset, o.length, 1000 + o.i, 0, pattern(seed + o.i, o.length));
    const seen = new Set<number>();
    for (let k = 0; k < ops.length; k++) {
      const r = await c.readReply();
      t.is(replyError(r), 0);
      seen.add(r.cookie);
    }
    t.is(seen.size, ops.length, 'one reply per cookie');
    c.request(P.NBD_CMD_FLUSH, 0, 0, 1);
    t.is(replyError(await c.readReply()), 0);
    // Later writes win where ranges overlap: read back in the same order they were written.
    const model = Buffer.alloc(8 * MiB);
    for (const o of ops) pattern(seed + o.i, o.length).copy(model, o.offset);
    const lengthOf = new Map(ops.map((o) => [2000 + o.i, o.length]));
    for (const o of ops) c.request(P.NBD_CMD_READ, o.offset, o.length, 2000 + o.i);
    for (let k = 0; k < ops.length; k++) {
      const r = await c.readReply((cookie) => lengthOf.get(cookie)!);
      const o = ops[r.cookie - 2000]!;
      t.true(
        readData(r, o.offset, o.length).equals(model.subarray(o.offset, o.offset + o.length)),
        `read ${o.i} (seed ${seed})`,
      );
    }
  });

  test(`${mode}: bad requests get the right error and the connection keeps working`, async (t) => {
    const size = 1 * MiB;
    const h = await startNbd(t, {}, size);
    const c = await h.connect();
    await c.negotiate({ structured });
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_READ, size - 10, 11);
    await expectError(t, c, P.NBD_ENOSPC, P.NBD_CMD_WRITE, size - 10, 11, 0, Buffer.alloc(11, 1));
    await expectError(t, c, P.NBD_ENOSPC, P.NBD_CMD_WRITE_ZEROES, size, 1);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_TRIM, 2 ** 52, 1);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_READ, 0, 32 * MiB + 1);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_WRITE, 0, 32 * MiB + 1, 0, Buffer.alloc(32 * MiB + 1));
    await expectError(t, c, P.NBD_EINVAL, 99, 0, 0);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_CACHE, 0, 512);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_READ, 0, 512, P.NBD_CMD_FLAG_NO_HOLE);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_WRITE, 0, 4, P.NBD_CMD_FLAG_DF, Buffer.alloc(4, 9));
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_WRITE_ZEROES, 0, 4, P.NBD_CMD_FLAG_FAST_ZERO);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_FLUSH, 0, 4);
    await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_BLOCK_STATUS, 0, 4096);
    if (!structured) await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_READ, 0, 512, P.NBD_CMD_FLAG_DF);
    // None of the refused writes changed anything, and the stream is still in sync.
    const r = await roundTrip(c, P.NBD_CMD_READ, 0, 4096);
    t.is(replyError(r), 0);
    t.true(readData(r, 0, 4096).equals(Buffer.alloc(4096)));
    t.is(replyError(await roundTrip(c, P.NBD_CMD_WRITE, 0, 3, 0, Buffer.from('abc'))), 0);
    t.true(readData(await roundTrip(c, P.NBD_CMD_READ, 0, 3), 0, 3).equals(Buffer.from('abc')));
  });

  test(`${mode}: a read-only export refuses WRITE, TRIM and WRITE_ZEROES with EPERM, payload consumed`, async (t) => {
    const h = await startNbd(t, { readOnly: true }, 1 * MiB);
    const c = await h.connect();
    await c.negotiate({ structured });
    await expectError(t, c, P.NBD_EPERM, P.NBD_CMD_WRITE, 0, 100_000, 0, Buffer.alloc(100_000, 1));
    await expectError(t, c, P.NBD_EPERM, P.NBD_CMD_TRIM, 0, 4096);
    await expectError(t, c, P.NBD_EPERM, P.NBD_CMD_WRITE_ZEROES, 0, 4096);
    t.is(replyError(await roundTrip(c, P.NBD_CMD_FLUSH, 0, 0)), 0, 'flush is fine on a read-only export');
    t.true(readData(await roundTrip(c, P.NBD_CMD_READ, 0, 8), 0, 8).equals(Buffer.alloc(8)));
  });

  test(`${mode}: zero-length read and write succeed`, async (t) => {
    const h = await startNbd(t);
    const c = await h.connect();
    await c.negotiate({ structured });
    t.is(replyError(await roundTrip(c, P.NBD_CMD_WRITE, 0, 0)), 0);
    const r = await roundTrip(c, P.NBD_CMD_READ, h.device.sizeBytes, 0);
    t.is(replyError(r), 0);
  });
}

test('WRITE with FUA and FLUSH are answered only after the device flush resolved', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device });
  const c = await h.connect();
  await c.negotiate();
  const checkFlushedBefore = async (): Promise<void> => {
    await c.readReply();
    const flushDone = device.events.findIndex((e) => e.op === 'flush' && e.phase === 'done');
    t.true(flushDone >= 0, 'the flush had finished when the reply arrived');
    device.events.length = 0;
  };
  c.request(P.NBD_CMD_WRITE, 0, 4, 1, P.NBD_CMD_FLAG_FUA, Buffer.from('data'));
  await checkFlushedBefore();
  c.request(P.NBD_CMD_WRITE, 0, 4, 2, 0, Buffer.from('more'));
  await c.readReply();
  t.false(
    device.events.some((e) => e.op === 'flush'),
    'no flush without FUA',
  );
  device.events.length = 0;
  c.request(P.NBD_CMD_FLUSH, 0, 0, 3);
  await checkFlushedBefore();
  c.request(P.NBD_CMD_WRITE_ZEROES, 0, 4, 4, P.NBD_CMD_FLAG_FUA);
  await checkFlushedBefore();
  c.request(P.NBD_CMD_TRIM, 0, 4, 5, P.NBD_CMD_FLAG_FUA);
  await checkFlushedBefore();
});

test('replies go out in completion order, not request order', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device });
  const c = await h.connect();
  await c.negotiate();
  device.hold = true;
  c.request(P.NBD_CMD_FLUSH, 0, 0, 1);
  while (device.heldCount < 1) await new Promise((r) => setTimeout(r, 5));
  device.hold = false;
  c.request(P.NBD_CMD_READ, 0, 16, 2);
  const first = await c.readReply(() => 16);
  t.is(first.cookie, 2);
  device.releaseAll();
  const second = await c.readReply();
  t.is(second.cookie, 1);
});

test('back-pressure: never more than maxInFlight requests reach the device; all are answered', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device, config: { maxInFlight: 4 } });
  const c = await h.connect();
  await c.negotiate();
  device.hold = true;
  for (let i = 0; i < 40; i++) c.request(P.NBD_CMD_READ, i * 512, 512, i);
  while (device.heldCount < 4) await new Promise((r) => setTimeout(r, 5));
  // Let the server see the rest of the pipelined requests; it must not start any of them.
  await new Promise((r) => setTimeout(r, 50));
  t.is(device.heldCount, 4);
  device.hold = false;
  device.releaseAll();
  const cookies = new Set<number>();
  for (let i = 0; i < 40; i++) cookies.add((await c.readReply(() => 512)).cookie);
  t.is(cookies.size, 40);
  t.is(device.maxConcurrent, 4);
});

test('back-pressure by bytes: large writes wait for maxInFlightBytes', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 8 * MiB }));
  const h = await startNbd(t, { device, config: { maxInFlightBytes: 1 * MiB } });
  const c = await h.connect();
  await c.negotiate();
  device.hold = true;
  for (let i = 0; i < 8; i++)
    c.request(P.NBD_CMD_WRITE, i * 512 * KiB, 512 * KiB, i, 0, pattern(i, 512 * KiB));
  while (device.heldCount < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  t.is(device.heldCount, 2, '2 x 512 KiB fill the 1 MiB budget');
  device.hold = false;
  device.releaseAll();
  for (let i = 0; i < 8; i++) t.is(replyError(await c.readReply()), 0);
  t.true(device.maxConcurrent <= 2);
  const r = await roundTrip(c, P.NBD_CMD_READ, 7 * 512 * KiB, 512 * KiB);
  t.true(readData(r, 7 * 512 * KiB, 512 * KiB).equals(pattern(7, 512 * KiB)));
});

test('requests cut into random fragments (headers and payloads split across reads, while stalled) are all served', async (t) => {
  const seed = Date.now() >>> 0;
  t.log(`seed ${seed}`);
  let x = seed | 1;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const slotBytes = 2 * MiB;
  const count = 24;
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: count * slotBytes }));
  const h = await startNbd(t, { device, config: { maxInFlight: 3 } }, count * slotBytes);
  const c = await h.connect();
  await c.negotiate();
  // Writes of 0 B .. 1.2 MiB to separate ranges; every fifth runs past the end (ENOSPC, payload skipped).
  const ops = Array.from({ length: count }, (_, i) => {
    const length = i === 3 ? 0 : 1 + rnd(1200 * KiB);
    const offset = i % 5 === 4 ? count * slotBytes : i * slotBytes;
    return { i, offset, length, data: pattern(seed + i, length) };
  });
  const stream = Buffer.concat(
    ops.map((o) => {
      const header = Buffer.alloc(28);
      header.writeUInt32BE(P.NBD_REQUEST_MAGIC, 0);
      header.writeUInt16BE(P.NBD_CMD_WRITE, 6);
      header.writeUInt32BE(o.i, 12);
      header.writeUInt32BE(Math.floor(o.offset / 2 ** 32), 16);
      header.writeUInt32BE(o.offset % 2 ** 32, 20);
      header.writeUInt32BE(o.length, 24);
      return Buffer.concat([header, o.data]);
    }),
  );
  device.hold = true; // the first requests wait, so the server stalls with bytes in hand
  for (let at = 0, k = 0; at < stream.length; k++) {
    const n = Math.min(stream.length - at, 1 + rnd(k % 3 === 0 ? 40 : 300 * KiB));
    c.write(stream.subarray(at, at + n));
    at += n;
    await new Promise((r) => setImmediate(r)); // a separate read on the server, mostly
  }
  while (device.heldCount < 3) await new Promise((r) => setTimeout(r, 5));
  device.hold = false;
  device.releaseAll();
  for (let k = 0; k < count; k++) {
    const r = await c.readReply();
    const o = ops[r.cookie]!;
    t.is(replyError(r), o.i % 5 === 4 ? P.NBD_ENOSPC : 0, `write ${o.i} (seed ${seed})`);
  }
  for (const o of ops.filter((op) => op.i % 5 !== 4 && op.length > 0)) {
    const r = await roundTrip(c, P.NBD_CMD_READ, o.offset, o.length);
    t.true(readData(r, o.offset, o.length).equals(o.data), `read back ${o.i} (seed ${seed})`);
  }
});

test('structured reads of sparse ranges send holes as OFFSET_HOLE; DF gets one data chunk', async (t) => {
  const h = await startNbd(t, {}, 4 * MiB);
  const c = await h.connect();
  await c.negotiate({ structured: true });
  const data = pattern(5, 64 * KiB);
  t.is(replyError(await roundTrip(c, P.NBD_CMD_WRITE, 128 * KiB, 64 * KiB, 0, data)), 0);
  const r = await roundTrip(c, P.NBD_CMD_READ, 0, 256 * KiB);
  t.is(r.kind, 'structured');
  if (r.kind !== 'structured') return;
  const kinds = r.chunks.map((ch) => [ch.type, readU64(ch.payload, 0)]);
  t.deepEqual(kinds, [
    [P.NBD_REPLY_TYPE_OFFSET_HOLE, 0],
    [P.NBD_REPLY_TYPE_OFFSET_DATA, 128 * KiB],
    [P.NBD_REPLY_TYPE_OFFSET_HOLE, 192 * KiB],
  ]);
  t.is(r.chunks[0]!.payload.readUInt32BE(8), 128 * KiB);
  t.is(r.chunks.filter((ch) => ch.flags & P.NBD_REPLY_FLAG_DONE).length, 1);
  t.truthy(r.chunks[r.chunks.length - 1]!.flags & P.NBD_REPLY_FLAG_DONE);
  const expected = Buffer.alloc(256 * KiB);
  data.copy(expected, 128 * KiB);
  t.true(readData(r, 0, 256 * KiB).equals(expected));

  const df = await roundTrip(c, P.NBD_CMD_READ, 0, 256 * KiB, P.NBD_CMD_FLAG_DF);
  t.is(df.kind === 'structured' && df.chunks.length, 1);
  t.true(readData(df, 0, 256 * KiB).equals(expected));
});

test('BLOCK_STATUS reports holes (HOLE|ZERO) and data for base:allocation; REQ_ONE gives one extent', async (t) => {
  const h = await startNbd(t, {}, 4 * MiB);
  const c = await h.connect();
  await c.negotiate({ structured: true, meta: true });
  await roundTrip(c, P.NBD_CMD_WRITE, 128 * KiB, 64 * KiB, 0, pattern(1, 64 * KiB));
  const descriptors = async (flags: number, offset: number, length: number): Promise<number[][]> => {
    const r = await roundTrip(c, P.NBD_CMD_BLOCK_STATUS, offset, length, flags);
    if (r.kind !== 'structured') throw new Error('block status must be structured');
    const ch = r.chunks[0]!;
    t.is(ch.type, P.NBD_REPLY_TYPE_BLOCK_STATUS);
    t.not(ch.payload.readUInt32BE(0), 0, 'the negotiated context id');
    const out: number[][] = [];
    for (let p = 4; p < ch.payload.length; p += 8)
      out.push([ch.payload.readUInt32BE(p), ch.payload.readUInt32BE(p + 4)]);
    return out;
  };
  const hz = P.NBD_STATE_HOLE | P.NBD_STATE_ZERO;
  t.deepEqual(await descriptors(0, 0, 4 * MiB), [
    [128 * KiB, hz],
    [64 * KiB, 0],
    [4 * MiB - 192 * KiB, hz],
  ]);
  t.deepEqual(await descriptors(P.NBD_CMD_FLAG_REQ_ONE, 0, 4 * MiB), [[128 * KiB, hz]]);
  t.deepEqual(await descriptors(0, 130 * KiB, 10 * KiB), [[10 * KiB, 0]]);
  await expectError(t, c, P.NBD_EINVAL, P.NBD_CMD_BLOCK_STATUS, 4 * MiB - 1, 2);
});

test('WRITE_ZEROES may punch a hole; with NO_HOLE the range stays allocated; TRIM reads back zeros', async (t) => {
  const h = await startNbd(t, {}, 4 * MiB);
  const c = await h.connect();
  await c.negotiate({ structured: true, meta: true });
  const status = async (offset: number, length: number): Promise<number> => {
    const r = await roundTrip(c, P.NBD_CMD_BLOCK_STATUS, offset, length, P.NBD_CMD_FLAG_REQ_ONE);
    return r.kind === 'structured' ? r.chunks[0]!.payload.readUInt32BE(8) : -1;
  };
  await roundTrip(c, P.NBD_CMD_WRITE, 0, 1 * MiB, 0, pattern(3, 1 * MiB));
  t.is(await status(0, 64 * KiB), 0);
  t.is(replyError(await roundTrip(c, P.NBD_CMD_WRITE_ZEROES, 0, 256 * KiB)), 0);
  t.is(await status(0, 64 * KiB), P.NBD_STATE_HOLE | P.NBD_STATE_ZERO);
  t.is(replyError(await roundTrip(c, P.NBD_CMD_WRITE_ZEROES, 2 * MiB, 256 * KiB, P.NBD_CMD_FLAG_NO_HOLE)), 0);
  t.is(await status(2 * MiB, 64 * KiB), 0, 'NO_HOLE: allocated');
  t.is(replyError(await roundTrip(c, P.NBD_CMD_TRIM, 512 * KiB, 128 * KiB)), 0);
  const r = await roundTrip(c, P.NBD_CMD_READ, 0, 1 * MiB);
  const expected = pattern(3, 1 * MiB);
  expected.fill(0, 0, 256 * KiB);
  expected.fill(0, 512 * KiB, 640 * KiB);
  t.true(readData(r, 0, 1 * MiB).equals(expected));
  t.true(
    readData(await roundTrip(c, P.NBD_CMD_READ, 2 * MiB, 256 * KiB), 2 * MiB, 256 * KiB).equals(
      Buffer.alloc(256 * KiB),
    ),
  );
});

test('DISC: requests in flight are answered, then the server closes', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device });
  const c = await h.connect();
  await c.negotiate();
  device.hold = true;
  c.request(P.NBD_CMD_WRITE, 0, 4, 1, 0, Buffer.from('last'));
  while (device.heldCount < 1) await new Promise((r) => setTimeout(r, 5));
  c.request(P.NBD_CMD_DISC, 0, 0, 2);
  device.hold = false;
  device.releaseAll();
  const r = await c.readReply();
  t.is(r.cookie, 1);
  t.is(replyError(r), 0);
  t.true(await c.endsWithin(5000));
  t.true((await h.device.read(0, 4)).equals(Buffer.from('last')));
});

test('a broken request magic ends that connection only; other clients keep working', async (t) => {
  const h = await startNbd(t);
  const a = await h.connect();
  const b = await h.connect();
  await a.negotiate();
  await b.negotiate();
  a.write(Buffer.alloc(28, 0x42));
  t.true(await a.endsWithin(5000));
  t.is(replyError(await roundTrip(b, P.NBD_CMD_READ, 0, 8)), 0);
});

test('several connections write at once; each sees the others after a flush', async (t) => {
  const h = await startNbd(t, {}, 4 * MiB);
  const clients = await Promise.all([0, 1, 2, 3].map(() => h.connect()));
  await Promise.all(clients.map((c) => c.negotiate()));
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; k < 8; k++)
        c.request(P.NBD_CMD_WRITE, (i * 8 + k) * 64 * KiB, 64 * KiB, k, 0, pattern(i * 8 + k, 64 * KiB));
      for (let k = 0; k < 8; k++) t.is(replyError(await c.readReply()), 0);
      t.is(replyError(await roundTrip(c, P.NBD_CMD_FLUSH, 0, 0)), 0);
    }),
  );
  const r = await roundTrip(clients[0]!, P.NBD_CMD_READ, 0, 2 * MiB);
  const got = readData(r, 0, 2 * MiB);
  for (let j = 0; j < 32; j++)
    t.true(got.subarray(j * 64 * KiB, (j + 1) * 64 * KiB).equals(pattern(j, 64 * KiB)), `block ${j}`);
});

test('server close: in-flight requests are answered, the device is flushed, clients are disconnected', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device });
  const c = await h.connect();
  await c.negotiate();
  device.hold = true;
  c.request(P.NBD_CMD_WRITE, 0, 4, 9, 0, Buffer.from('kept'));
  while (device.heldCount < 1) await new Promise((r) => setTimeout(r, 5));
  const closing = h.server.close();
  device.hold = false;
  device.releaseAll();
  const r = await c.readReply();
  t.is(r.cookie, 9);
  t.is(replyError(r), 0);
  await closing;
  t.true(await c.endsWithin(5000));
  const last = device.events.filter((e) => e.phase === 'done').pop();
  t.is(last?.op, 'flush', 'the device was flushed last');
});

test('server close fails with TIMEOUT when the device flush never finishes (a remote server gone)', async (t) => {
  const device = new RecordingDevice(new MemoryBlockDevice({ sizeBytes: 1 * MiB }));
  const h = await startNbd(t, { device, config: { shutdownGraceMs: 100 } });
  h.closeMayFail = true;
  device.hold = true;
  const err = await t.throwsAsync(h.server.close());
  t.is((err as { code?: string }).code, 'TIMEOUT');
  device.hold = false;
  device.releaseAll();
});
