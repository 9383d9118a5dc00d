// Option haggling: every option the server knows, the ones it refuses, and that a refusal keeps
// the dialogue in sync. In-process server on a Unix socket, raw client.
import test from 'ava';
import { MemoryBlockDevice, nbdProtocol as P } from '../../../src/index.js';
import {
  encodeClientFlags,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
} from '../../../src/nbd/handshake-codec.js';
import { readU64 } from '../../../src/nbd/transmission-codec.js';
import { startNbd } from './harness.js';
import type { RawNbdClient } from './raw-client.js';

const go = (name = '', infos: number[] = []): Buffer =>
  encodeInfoRequest({ exportName: name, infoTypes: infos });

async function expectListWorks(t: import('ava').ExecutionContext, c: RawNbdClient, name = ''): Promise<void> {
  const r = await c.option(P.NBD_OPT_LIST);
  t.is(r.length, 2, 'one NBD_REP_SERVER then ACK');
  t.is(r[0]!.replyType, P.NBD_REP_SERVER);
  t.is(r[0]!.data.readUInt32BE(0), Buffer.byteLength(name));
  t.is(r[0]!.data.subarray(4).toString(), name);
  t.is(r[1]!.replyType, P.NBD_REP_ACK);
}

test('greeting advertises fixed newstyle and no-zeroes', async (t) => {
  const h = await startNbd(t);
  const c = await h.connect();
  t.is(await c.greet(), P.NBD_FLAG_FIXED_NEWSTYLE | P.NBD_FLAG_NO_ZEROES);
});

test('unknown options, STARTTLS and EXTENDED_HEADERS get ERR_UNSUP and the dialogue stays in sync', async (t) => {
  const h = await startNbd(t, { exportName: 'disk' });
  const c = await h.connect();
  await c.greet();
  for (const opt of [P.NBD_OPT_EXTENDED_HEADERS, P.NBD_OPT_STARTTLS, 4, 12, 99, 0xffffffff]) {
    const r = await c.option(opt, Buffer.from('some option data the server must skip'));
    t.is(r.length, 1);
    t.is(r[0]!.replyType, P.NBD_REP_ERR_UNSUP, `option ${opt}`);
    t.is(r[0]!.option, opt >>> 0);
  }
  await expectListWorks(t, c, 'disk');
});

test('an option longer than the limit is skipped and refused with TOO_BIG, and the next one works', async (t) => {
  const h = await startNbd(t);
  const c = await h.connect();
  await c.greet();
  const r = await c.option(P.NBD_OPT_INFO, Buffer.alloc(200_000, 7));
  t.is(r[0]!.replyType, P.NBD_REP_ERR_TOO_BIG);
  await expectListWorks(t, c);
});

test('NBD_OPT_LIST with data is INVALID', async (t) => {
  const h = await startNbd(t);
  const c = await h.connect();
  await c.greet();
  const r = await c.option(P.NBD_OPT_LIST, Buffer.from('x'));
  t.is(r[0]!.replyType, P.NBD_REP_ERR_INVALID);
  await expectListWorks(t, c);
});

test('NBD_OPT_INFO: export info, block sizes, name; unknown export; malformed data', async (t) => {
  const h = await startNbd(t, { exportName: 'disk', description: 'a test disk' }, 8 * 1024 * 1024);
  const c = await h.connect();
  await c.greet();
  const r = await c.option(
    P.NBD_OPT_INFO,
    go('disk', [P.NBD_INFO_NAME, P.NBD_INFO_DESCRIPTION, P.NBD_INFO_BLOCK_SIZE]),
  );
  const infos = new Map(
    r.filter((x) => x.replyType === P.NBD_REP_INFO).map((x) => [x.data.readUInt16BE(0), x.data]),
  );
  const exp = infos.get(P.NBD_INFO_EXPORT)!;
  t.is(readU64(exp, 2), 8 * 1024 * 1024);
  const flags = exp.readUInt16BE(10);
  const want =
    P.NBD_FLAG_HAS_FLAGS |
    P.NBD_FLAG_SEND_FLUSH |
    P.NBD_FLAG_SEND_FUA |
    P.NBD_FLAG_SEND_TRIM |
    P.NBD_FLAG_SEND_WRITE_ZEROES |
    P.NBD_FLAG_CAN_MULTI_CONN;
  t.is(flags, want, 'no DF before structured replies, nothing unsupported');
  const bs = infos.get(P.NBD_INFO_BLOCK_SIZE)!;
  t.deepEqual([bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)], [1, 4096, 32 * 1024 * 1024]);
  t.is(infos.get(P.NBD_INFO_NAME)!.subarray(2).toString(), 'disk');
  t.is(infos.get(P.NBD_INFO_DESCRIPTION)!.subarray(2).toString(), 'a test disk');
  t.is(r[r.length - 1]!.replyType, P.NBD_REP_ACK);

  const unknown = await c.option(P.NBD_OPT_INFO, go('nope'));
  t.deepEqual(
    unknown.map((x) => x.replyType),
    [P.NBD_REP_ERR_UNKNOWN],
  );
  const bad = await c.option(P.NBD_OPT_GO, Buffer.from([0, 0, 0, 9, 1]));
  t.deepEqual(
    bad.map((x) => x.replyType),
    [P.NBD_REP_ERR_INVALID],
  );
  // The default (empty) name selects the export too; GO then enters transmission.
  const g = await c.option(P.NBD_OPT_GO, go(''));
  t.is(g[g.length - 1]!.replyType, P.NBD_REP_ACK);
  c.request(P.NBD_CMD_READ, 0, 512, 1);
  const reply = await c.readReply(() => 512);
  t.is(reply.kind, 'simple');
});

test('read-only export says so and advertises no write features', async (t) => {
  const h = await startNbd(t, { readOnly: true });
  const c = await h.connect();
  const g = await c.negotiate({ structured: true });
  t.is(
    g.flags,
    P.NBD_FLAG_HAS_FLAGS |
      P.NBD_FLAG_READ_ONLY |
      P.NBD_FLAG_SEND_FLUSH |
      P.NBD_FLAG_SEND_DF |
      P.NBD_FLAG_CAN_MULTI_CONN,
  );
});

test('structured replies: ACK once, INVALID with data or when repeated', async (t) => {
  const h = await startNbd(t);
  const c = await h.connect();
  await c.greet();
  t.is((await c.option(P.NBD_OPT_STRUCTURED_REPLY, Buffer.from('x')))[0]!.replyType, P.NBD_REP_ERR_INVALID);
  t.is((await c.option(P.NBD_OPT_STRUCTURED_REPLY))[0]!.replyType, P.NBD_REP_ACK);
  t.is((await c.option(P.NBD_OPT_STRUCTURED_REPLY))[0]!.replyType, P.NBD_REP_ERR_INVALID);
  const r = await c.option(P.NBD_OPT_INFO, go());
  const exp = r.find((x) => x.replyType === P.NBD_REP_INFO && x.data.readUInt16BE(0) === P.NBD_INFO_EXPORT)!;
  t.truthy(exp.data.readUInt16BE(10) & P.NBD_FLAG_SEND_DF, 'DF once structured replies are on');
});

test('meta contexts: base:allocation listed and selected; others ignored; needs structured replies', async (t) => {
  const h = await startNbd(t, { exportName: 'disk' });
  const c = await h.connect();
  await c.greet();
  const meta = (queries: string[], name = 'disk'): Buffer =>
    encodeMetaContextRequest({ exportName: name, queries });
  t.is(
    (await c.option(P.NBD_OPT_SET_META_CONTEXT, meta([P.BASE_ALLOCATION])))[0]!.replyType,
    P.NBD_REP_ERR_INVALID,
  );
  await c.option(P.NBD_OPT_STRUCTURED_REPLY);

  for (const queries of [[], ['base:'], [P.BASE_ALLOCATION], ['qemu:dirty-bitmap:x', 'base:']]) {
    const r = await c.option(P.NBD_OPT_LIST_META_CONTEXT, meta(queries));
    t.deepEqual(
      r.map((x) => x.replyType),
      [P.NBD_REP_META_CONTEXT, P.NBD_REP_ACK],
      JSON.stringify(queries),
    );
    t.is(r[0]!.data.subarray(4).toString(), P.BASE_ALLOCATION);
  }
  const none = await c.option(P.NBD_OPT_LIST_META_CONTEXT, meta(['qemu:allocation-depth', 'base:other']));
  t.deepEqual(
    none.map((x) => x.replyType),
    [P.NBD_REP_ACK],
  );
  t.is((await c.option(P.NBD_OPT_LIST_META_CONTEXT, meta(['nocolon'])))[0]!.replyType, P.NBD_REP_ERR_INVALID);
  t.is((await c.option(P.NBD_OPT_LIST_META_CONTEXT, meta([], 'other')))[0]!.replyType, P.NBD_REP_ERR_UNKNOWN);
  t.is(
    (await c.option(P.NBD_OPT_SET_META_CONTEXT, Buffer.from([0, 0, 0, 0, 0, 0, 0, 5])))[0]!.replyType,
    P.NBD_REP_ERR_INVALID,
  );

  const set = await c.option(P.NBD_OPT_SET_META_CONTEXT, meta(['base:', P.BASE_ALLOCATION]));
  t.deepEqual(
    set.map((x) => x.replyType),
    [P.NBD_REP_META_CONTEXT, P.NBD_REP_ACK],
  );
  t.not(set[0]!.data.readUInt32BE(0), 0, 'a selected context has a non-zero id');
});

test('NBD_OPT_ABORT is acknowledged and the server closes', async (t) => {
  const h = await startNbd(t);
  const c = await h.connect();
  await c.greet();
  const r = await c.option(P.NBD_OPT_ABORT);
  t.is(r[0]!.replyType, P.NBD_REP_ACK);
  t.true(await c.endsWithin(5000));
});

test('NBD_OPT_EXPORT_NAME: size and flags, without zeroes when agreed, with them otherwise', async (t) => {
  const h = await startNbd(t, { exportName: 'disk' }, 1 << 20);
  const a = await h.connect();
  await a.greet();
  a.write(encodeOption(P.NBD_OPT_EXPORT_NAME, Buffer.from('disk')));
  const short = await a.read(10);
  t.is(readU64(short, 0), 1 << 20);
  a.request(P.NBD_CMD_READ, 0, 4, 1);
  const r = await a.readReply(() => 4);
  t.is(r.kind === 'simple' && r.error, 0, 'transmission works right after the 10 bytes');

  const b = await h.connect();
  await b.greet(P.NBD_FLAG_C_FIXED_NEWSTYLE);
  b.write(encodeOption(P.NBD_OPT_EXPORT_NAME, Buffer.alloc(0)));
  const long = await b.read(134);
  t.true(long.subarray(10).every((x) => x === 0));
});

test('NBD_OPT_EXPORT_NAME of an unknown export ends the session (it cannot carry an error)', async (t) => {
  const h = await startNbd(t, { exportName: 'disk' });
  const c = await h.connect();
  await c.greet();
  c.write(encodeOption(P.NBD_OPT_EXPORT_NAME, Buffer.from('other')));
  t.true(await c.endsWithin(5000));
});

test('unknown client flags and a broken option magic end the session; the server keeps serving', async (t) => {
  const h = await startNbd(t);
  const a = await h.connect();
  await a.read(18);
  a.write(encodeClientFlags(0x80));
  t.true(await a.endsWithin(5000));

  const b = await h.connect();
  await b.greet();
  b.write(Buffer.from('IHAVEOPX\0\0\0\x03\0\0\0\0'));
  t.true(await b.endsWithin(5000));

  const c = await h.connect();
  const g = await c.negotiate();
  t.is(g.sizeBytes, h.device.sizeBytes);
});

test('a client that stalls in the handshake is cut after handshakeTimeoutMs', async (t) => {
  const h = await startNbd(t, { config: { handshakeTimeoutMs: 200 } });
  const c = await h.connect();
  await c.greet();
  t.true(await c.endsWithin(5000));
});

test('more connections than maxConnections are closed at once; the others keep working', async (t) => {
  const h = await startNbd(t, { config: { maxConnections: 2 } });
  const a = await h.connect();
  await a.negotiate();
  const b = await h.connect();
  await b.negotiate();
  const c = await h.connect();
  t.true(await c.endsWithin(5000));
  a.request(P.NBD_CMD_READ, 0, 1, 1);
  t.is((await a.readReply(() => 1)).kind, 'simple');
});

test('a device that is read-only by itself gives a read-only export', async (t) => {
  const device = new MemoryBlockDevice({ sizeBytes: 1 << 20, readOnly: true });
  const h = await startNbd(t, { device });
  const c = await h.connect();
  const g = await c.negotiate();
  t.truthy(g.flags & P.NBD_FLAG_READ_ONLY);
});
