// The NBD codecs against golden bytes written out by hand from doc/proto.md, and by round trip.
import test from 'ava';
import fc from 'fast-check';
import { nbdProtocol as P } from '../../../src/index.js';
import {
  decodeGreeting,
  decodeInfoRequest,
  decodeMetaContextRequest,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeString,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  encodeOptionReply,
  encodeRepMetaContext,
  encodeRepServer,
} from '../../../src/nbd/handshake-codec.js';
import {
  decodeRequestInto,
  encodeBlockStatusChunk,
  encodeChunkHeader,
  encodeErrorChunk,
  encodeOffsetDataHeader,
  encodeOffsetHole,
  encodeRequest,
  encodeSimpleReply,
  newRequest,
  readU64,
  writeU64,
} from '../../../src/nbd/transmission-codec.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

test('greeting: NBDMAGIC, IHAVEOPT, handshake flags', (t) => {
  const golden = hex('4e42444d41474943 | 49484156454f5054 | 0003');
  t.deepEqual(encodeGreeting(P.NBD_FLAG_FIXED_NEWSTYLE | P.NBD_FLAG_NO_ZEROES), golden);
  t.deepEqual(decodeGreeting(golden), { handshakeFlags: 3 });
  const bad = Buffer.from(golden);
  bad[0] = 0;
  t.is(decodeGreeting(bad), null);
});

test('option header and option reply', (t) => {
  const opt = hex('49484156454f5054 | 00000007 | 00000003 | 616263');
  t.deepEqual(encodeOption(P.NBD_OPT_GO, Buffer.from('abc')), opt);
  t.deepEqual(decodeOptionHeader(opt), { option: 7, lengthBytes: 3 });
  t.is(decodeOptionHeader(hex('49484156454f5055 00000007 00000000')), null);

  const rep = hex('0003e889045565a9 | 00000003 | 80000001 | 00000002 | 6869');
  t.deepEqual(encodeOptionReply(P.NBD_OPT_LIST, P.NBD_REP_ERR_UNSUP, Buffer.from('hi')), rep);
  t.deepEqual(decodeOptionReplyHeader(rep), { option: 3, replyType: 0x80000001, lengthBytes: 2 });
  t.true(P.isReplyError(P.NBD_REP_ERR_UNSUP));
  t.false(P.isReplyError(P.NBD_REP_ACK));
});

test('export-name reply with and without the 124 zero bytes', (t) => {
  const short = encodeExportNameReply(0x1_0000_0200, 0x1ed, true);
  t.deepEqual(short, hex('0000000100000200 | 01ed'));
  const long = encodeExportNameReply(0x1_0000_0200, 0x1ed, false);
  t.is(long.length, 134);
  t.deepEqual(long.subarray(0, 10), short);
  t.true(long.subarray(10).every((b) => b === 0));
});

test('NBD_REP_INFO payloads, NBD_REP_SERVER and NBD_REP_META_CONTEXT', (t) => {
  t.deepEqual(encodeInfoExport(1 << 30, 0x0d), hex('0000 | 0000000040000000 | 000d'));
  t.deepEqual(encodeInfoBlockSize(1, 4096, 32 << 20), hex('0003 | 00000001 | 00001000 | 02000000'));
  t.deepEqual(encodeRepServer('disk'), hex('00000004 6469736b'));
  t.deepEqual(
    encodeRepMetaContext(1, 'base:allocation'),
    Buffer.concat([hex('00000001'), Buffer.from('base:allocation')]),
  );
});

test('INFO/GO data: golden, round trip, and malformed lengths are refused', (t) => {
  const golden = hex('00000002 | 6869 | 0002 | 0003 0001');
  t.deepEqual(decodeInfoRequest(golden), { exportName: 'hi', infoTypes: [3, 1] });
  t.deepEqual(encodeInfoRequest({ exportName: 'hi', infoTypes: [3, 1] }), golden);
  t.is(decodeInfoRequest(hex('00000003 6869 0000')), null, 'name length runs past the data');
  t.is(decodeInfoRequest(hex('00000002 6869 0002 0003')), null, 'fewer info types than counted');
  t.is(decodeInfoRequest(hex('00000002 6869 0000 00')), null, 'bytes left over');
  t.is(decodeInfoRequest(hex('000000')), null, 'too short');
  t.is(decodeInfoRequest(hex('00000002 6800 0000')), null, 'NUL in the name');
  t.is(decodeInfoRequest(hex('00000002 c328 0000')), null, 'invalid UTF-8');
  fc.assert(
    fc.property(
      fc.string({ maxLength: 64 }),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }),
      (name, infos) => {
        const clean = name.replace(/\0/g, '');
        t.deepEqual(decodeInfoRequest(encodeInfoRequest({ exportName: clean, infoTypes: infos })), {
          exportName: clean,
          infoTypes: infos,
        });
      },
    ),
  );
});

test('meta context data: golden, round trip, malformed refused', (t) => {
  const golden = Buffer.concat([hex('00000000 00000001 0000000f'), Buffer.from('base:allocation')]);
  t.deepEqual(decodeMetaContextRequest(golden), { exportName: '', queries: ['base:allocation'] });
  t.deepEqual(encodeMetaContextRequest({ exportName: '', queries: ['base:allocation'] }), golden);
  t.is(decodeMetaContextRequest(hex('00000000 00000002 00000000')), null, 'count larger than the queries');
  t.is(decodeMetaContextRequest(hex('00000000 ffffffff')), null, 'absurd count refused before reading');
  t.is(decodeMetaContextRequest(hex('00000000 00000001 00000005 6162')), null, 'query runs past the data');
  t.is(decodeMetaContextRequest(hex('00000000 00000000 00')), null, 'bytes left over');
  fc.assert(
    fc.property(
      fc.string({ maxLength: 32 }),
      fc.array(fc.string({ maxLength: 40 }), { maxLength: 8 }),
      (name, queries) => {
        const req = {
          exportName: name.replace(/\0/g, ''),
          queries: queries.map((q) => q.replace(/\0/g, '')),
        };
        t.deepEqual(decodeMetaContextRequest(encodeMetaContextRequest(req)), req);
      },
    ),
  );
});

test('strings: at most 4096 bytes, UTF-8, no NUL', (t) => {
  t.is(decodeString(Buffer.alloc(4096, 0x61))?.length, 4096);
  t.is(decodeString(Buffer.alloc(4097, 0x61)), null);
  t.is(decodeString(Buffer.from('é')), 'é');
});

test('request header: golden bytes and round trip of every field', (t) => {
  const golden = hex('25609513 | 0001 | 0001 | 0102030405060708 | 0000000100000000 | 00001000');
  const req = newRequest();
  t.true(decodeRequestInto(golden, 0, req));
  t.deepEqual(req, {
    flags: 1,
    type: 1,
    cookieHi: 0x01020304,
    cookieLo: 0x05060708,
    offset: 2 ** 32,
    length: 4096,
  });
  const out = Buffer.alloc(28);
  encodeRequest(out, 0, req);
  t.deepEqual(out, golden);
  t.false(
    decodeRequestInto(hex('21e41c71' + '00'.repeat(24)), 0, req),
    'extended header magic is not accepted',
  );
  fc.assert(
    fc.property(
      fc.record({
        flags: fc.integer({ min: 0, max: 0xffff }),
        type: fc.integer({ min: 0, max: 0xffff }),
        cookieHi: fc.nat({ max: 0xffffffff }),
        cookieLo: fc.nat({ max: 0xffffffff }),
        offset: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        length: fc.nat({ max: 0xffffffff }),
      }),
      fc.nat({ max: 16 }),
      (r, at) => {
        const b = Buffer.alloc(at + 28);
        encodeRequest(b, at, r);
        const back = newRequest();
        t.true(decodeRequestInto(b, at, back));
        t.deepEqual(back, r);
      },
    ),
  );
});

test('simple reply and structured chunks: golden bytes', (t) => {
  const b = Buffer.alloc(64);
  t.is(encodeSimpleReply(b, 0, 22, 0xaabbccdd, 0x11223344), 16);
  t.deepEqual(b.subarray(0, 16), hex('67446698 | 00000016 | aabbccdd11223344'));

  t.is(encodeChunkHeader(b, 0, 1, 0, 0, 7, 0), 20);
  t.deepEqual(b.subarray(0, 20), hex('668e33ef | 0001 | 0000 | 0000000000000007 | 00000000'));

  t.is(encodeOffsetDataHeader(b, 0, 1, 0, 9, 0x200, 4), 28);
  t.deepEqual(b.subarray(0, 28), hex('668e33ef 0001 0001 0000000000000009 0000000c | 0000000000000200'));

  t.is(encodeOffsetHole(b, 0, 0, 0, 9, 0x10000, 0x8000), 32);
  t.deepEqual(
    b.subarray(0, 32),
    hex('668e33ef 0000 0002 0000000000000009 0000000c | 0000000000010000 | 00008000'),
  );

  const bs = encodeBlockStatusChunk(1, 0, 5, 1, [
    { lengthBytes: 0x10000, status: 3 },
    { lengthBytes: 0x200, status: 0 },
  ]);
  t.deepEqual(
    bs,
    hex('668e33ef 0001 0005 0000000000000005 00000014 | 00000001 | 00010000 00000003 | 00000200 00000000'),
  );

  const err = encodeErrorChunk(1, 0, 5, 22, 'no');
  t.deepEqual(err, hex('668e33ef 0001 8001 0000000000000005 00000008 | 00000016 | 0002 | 6e6f'));
  t.is(
    encodeErrorChunk(1, 0, 5, 22, 'é'.repeat(3000)).readUInt16BE(24) <= 4096,
    true,
    'message capped at 4096 bytes',
  );
});

test('64-bit offsets survive the round trip up to 2^53', (t) => {
  fc.assert(
    fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
      const b = Buffer.alloc(8);
      writeU64(b, 0, n);
      t.is(readU64(b, 0), n);
      t.is(b.readBigUInt64BE(0), BigInt(n));
    }),
  );
});
