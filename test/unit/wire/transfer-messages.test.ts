import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { isFerryError } from '../../../src/core/errors.js';
import {
  BLOCK_HEADER_BYTES,
  BLOCK_OFF_HASH,
  BLOCK_OFF_POSITION,
  BLOCK_OFF_TRANSFER_ID,
  MESSAGES,
  OFF_FLAGS,
  REQUEST_FLAG_EXTENDED_REPLY,
  decodeReplyAnyLayout,
  encodeReplyFor,
  READ_REPLY_HEADER_BYTES,
  OFF_REQUEST_ID,
  REPLY_BIT,
  STATUS_ERROR,
  STATUS_OK,
  decodeDevices,
  decodeDiscovery,
  decodeEntries,
  decodeErrorReply,
  decodeExtents,
  decodeJournal,
  decodeListing,
  decodeListRequest,
  decodeReply,
  decodeRequest,
  encodeDevices,
  encodeDiscovery,
  encodeEntries,
  encodeErrorReply,
  encodeExtents,
  encodeJournal,
  encodeListing,
  encodeReply,
  encodeRequest,
  layoutsOf,
  peekRequestId,
  readBlockHeader,
  readHeader,
  writeBlockHeader,
  writeHeader,
  writeReadReplyHeader,
  type MessageHeader,
} from '../../../src/wire/transfer/index.js';

test.before(async () => {
  await initChecksums();
});

const hdr = (): MessageHeader => ({ type: 0, flags: 0, status: 0, requestId: 0 });

test('request ids over the whole 32-bit range are little-endian and round-trip (DataView reference)', (t) => {
  for (const id of [0, 1, 0xff, 0x1234_5678, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff]) {
    const buf = Buffer.alloc(BLOCK_HEADER_BYTES);
    writeHeader(buf, MESSAGES.UPLOAD_BLOCK.type, 0, STATUS_OK, id);
    t.is(new DataView(buf.buffer, buf.byteOffset).getUint32(OFF_REQUEST_ID, true), id, `written ${id}`);
    t.is(readHeader(buf, hdr()).requestId, id, `read ${id}`);
    t.is(peekRequestId(buf), id, `peeked ${id}`);
  }
});

test('UPLOAD_BEGIN request and reply round-trip', (t) => {
  const req = {
    sizeBytes: 2 ** 40 + 3,
    blockBytes: 262144,
    fileMode: 0o644,
    sourceTag: 0xfedcba9876543210n,
    resume: 1,
    name: 'größe.bin',
  };
  const buf = encodeRequest('UPLOAD_BEGIN', 77, req);
  const h = readHeader(buf, hdr());
  t.is(h.type, MESSAGES.UPLOAD_BEGIN.type);
  t.is(h.requestId, 77);
  t.deepEqual(decodeRequest('UPLOAD_BEGIN', buf), req);
  const reply = { transferId: 9, blockCount: 5, resumed: 1, verified: Buffer.from([0b10101]) };
  const rbuf = encodeReply('UPLOAD_BEGIN', 77, reply);
  t.is(readHeader(rbuf, hdr()).type, MESSAGES.UPLOAD_BEGIN.type | REPLY_BIT);
  const got = decodeReply('UPLOAD_BEGIN', rbuf);
  t.deepEqual({ ...got, verified: Buffer.from(got.verified) }, reply);
});

test('fixed fields sit where a plain DataView reader expects them', (t) => {
  const buf = encodeRequest('TRUNCATE', 0x01020304, { sizeBytes: 123456789, name: 'ab' });
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  t.is(dv.getUint8(0), MESSAGES.TRUNCATE.type);
  t.is(dv.getUint8(1), 1);
  t.is(dv.getUint32(4, true), 0x01020304);
  t.is(Number(dv.getBigUint64(8, true)), 123456789);
  t.is(dv.getUint16(16, true), 2);
  t.is(buf.toString('utf8', 18), 'ab');
  t.is(buf.length, 20);
});

test('hot-path block offsets equal the table layout', (t) => {
  for (const name of ['UPLOAD_BLOCK', 'APPEND_DATA'] as const) {
    const rows = layoutsOf(name).request.rows;
    t.is(rows[0]!.offset, BLOCK_OFF_TRANSFER_ID);
    t.is(rows[1]!.offset, BLOCK_OFF_POSITION);
    t.is(rows[2]!.offset, BLOCK_OFF_HASH);
    t.is(layoutsOf(name).request.fixedEndBytes, BLOCK_HEADER_BYTES);
  }
  t.is(layoutsOf('DOWNLOAD_READ').reply.fixedEndBytes, READ_REPLY_HEADER_BYTES);
  const data = Buffer.from('hello block');
  const buf = Buffer.alloc(BLOCK_HEADER_BYTES + data.length);
  writeBlockHeader(buf, MESSAGES.UPLOAD_BLOCK.type, 5, 6, 2 ** 35, 0x1122334455667788n);
  data.copy(buf, BLOCK_HEADER_BYTES);
  const decoded = decodeRequest('UPLOAD_BLOCK', buf);
  t.is(decoded.transferId, 6);
  t.is(decoded.offset, 2 ** 35);
  t.is(decoded.hash, 0x1122334455667788n);
  t.deepEqual(Buffer.from(decoded.data), data);
  const out = readBlockHeader(buf, { transferId: 0, position: 0, hash: 0n });
  t.deepEqual(out, { transferId: 6, position: 2 ** 35, hash: 0x1122334455667788n });
  const rr = Buffer.alloc(READ_REPLY_HEADER_BYTES + 3);
  writeReadReplyHeader(rr, 8, 42n);
  rr.write('abc', READ_REPLY_HEADER_BYTES);
  const r = decodeReply('DOWNLOAD_READ', rr);
  t.is(r.hash, 42n);
  t.is(r.data.toString(), 'abc');
});

test('error replies carry code and message', (t) => {
  const buf = encodeErrorReply(0x7e, 3, 'UNKNOWN_REQUEST', 'no such type');
  const h = readHeader(buf, hdr());
  t.is(h.status, STATUS_ERROR);
  t.is(h.type, 0xfe);
  t.deepEqual(decodeErrorReply(buf), { code: 'UNKNOWN_REQUEST', message: 'no such type' });
});

test('decoders refuse truncated, oversize and bad UTF-8 input with MALFORMED', (t) => {
  const buf = encodeRequest('STAT', 1, { name: 'abc' });
  t.true(
    isFerryError(
      t.throws(() => decodeRequest('STAT', buf.subarray(0, buf.length - 1))),
      'MALFORMED',
    ),
  );
  const extra = Buffer.concat([buf, Buffer.from([0])]);
  t.true(
    isFerryError(
      t.throws(() => decodeRequest('STAT', extra)),
      'MALFORMED',
    ),
  );
  const bad = Buffer.from(buf);
  bad[10] = 0xff;
  t.true(
    isFerryError(
      t.throws(() => decodeRequest('STAT', bad)),
      'MALFORMED',
    ),
  );
  const big = encodeRequest('TRUNCATE', 1, { sizeBytes: 1, name: 'x' });
  big.writeBigUInt64LE(2n ** 60n, 8);
  t.true(
    isFerryError(
      t.throws(() => decodeRequest('TRUNCATE', big)),
      'MALFORMED',
    ),
  );
  const vers = Buffer.from(buf);
  vers[1] = 9;
  t.true(
    isFerryError(
      t.throws(() => readHeader(vers, hdr())),
      'UNSUPPORTED_VERSION',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => readHeader(Buffer.alloc(3), hdr())),
      'MALFORMED',
    ),
  );
});

test('encoders refuse values their field cannot hold', (t) => {
  t.true(
    isFerryError(
      t.throws(() => encodeRequest('CLOSE', 1, { handle: 2 ** 33 })),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => encodeRequest('CLOSE', 1, { handle: -1 })),
      'INVALID_ARGUMENT',
    ),
  );
});

test('record lists round-trip and refuse lying counts', (t) => {
  const entries = [
    { name: 'a', sizeBytes: 1, mtimeMs: 2.5, atimeMs: 3, ctimeMs: 4 },
    { name: 'ž', sizeBytes: 2 ** 50, mtimeMs: 0, atimeMs: 0, ctimeMs: 0 },
  ];
  t.deepEqual(decodeEntries(encodeEntries(entries)), entries);
  const extents = [
    { offset: 0, length: 4096, hole: true },
    { offset: 4096, length: 8192, hole: false },
  ];
  t.deepEqual(decodeExtents(encodeExtents(extents)), extents);
  const devices = [{ name: 'disk0', sizeBytes: 1 << 30, blockBytes: 4096, readOnly: true }];
  t.deepEqual(decodeDevices(encodeDevices(devices)), devices);
  const lying = encodeEntries(entries);
  lying.writeUInt32LE(1_000_000, 0);
  t.true(
    isFerryError(
      t.throws(() => decodeEntries(lying)),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeExtents(Buffer.alloc(2))),
      'MALFORMED',
    ),
  );
});

test('LIST request carries prefix and delimiter at fixed places; the layout before them still decodes', (t) => {
  const req = { limit: 50, includeHidden: 0, cursor: 'a/', prefix: 'föto/', delimiter: '/' };
  const buf = encodeRequest('LIST', 9, req);
  t.deepEqual(decodeListRequest(buf), req);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  t.is(dv.getUint32(8, true), 50);
  t.is(dv.getUint8(12), 0);
  t.is(dv.getUint16(13, true), 2);
  t.is(buf.toString('utf8', 15, 17), 'a/');
  t.is(dv.getUint16(17, true), Buffer.byteLength('föto/'));
  t.is(buf.toString('utf8', 19, 25), 'föto/');
  t.is(dv.getUint16(25, true), 1);
  t.is(buf.toString('utf8', 27), '/');
  t.is(buf.length, 28);
  // before issue 16: limit u32, includeHidden u8, cursor str
  const old = Buffer.alloc(8 + 4 + 1 + 2 + 3);
  writeHeader(old, MESSAGES.LIST.type, 0, STATUS_OK, 4);
  old.writeUInt32LE(7, 8);
  old[12] = 1;
  old.writeUInt16LE(3, 13);
  old.write('abc', 15);
  t.deepEqual(decodeListRequest(old), {
    limit: 7,
    includeHidden: 1,
    cursor: 'abc',
    prefix: '',
    delimiter: '',
  });
  t.true(
    isFerryError(
      t.throws(() => decodeListRequest(Buffer.concat([old, Buffer.from([1])]))),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeListRequest(buf.subarray(0, buf.length - 1))),
      'MALFORMED',
    ),
  );
});

test('LIST listing: folders follow the entries only when there are any; lying counts refused', (t) => {
  const entries = [{ name: 'a/x', sizeBytes: 3, mtimeMs: 1, atimeMs: 2, ctimeMs: 3 }];
  const plain = encodeListing(entries, []);
  t.deepEqual(plain, encodeEntries(entries), 'no folders: exactly the entry list older clients read');
  t.deepEqual(decodeListing(plain), { entries, prefixes: [] });
  const withFolders = encodeListing(entries, ['a/b/', 'a/ž/']);
  t.deepEqual(decodeListing(withFolders), { entries, prefixes: ['a/b/', 'a/ž/'] });
  t.is(withFolders.readUInt32LE(plain.length), 2);
  t.is(withFolders.readUInt16LE(plain.length + 4), 4);
  t.deepEqual(decodeListing(encodeListing([], ['z/'])), { entries: [], prefixes: ['z/'] });
  const lying = Buffer.from(withFolders);
  lying.writeUInt32LE(1000, plain.length);
  t.true(
    isFerryError(
      t.throws(() => decodeListing(lying)),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeListing(withFolders.subarray(0, withFolders.length - 1))),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeListing(Buffer.concat([withFolders, Buffer.from([0])]))),
      'MALFORMED',
    ),
  );
});

test('STATFS reply carries maxSegmentBytes after the older fields, which keep their offsets', (t) => {
  const reply = {
    totalBytes: 10,
    usedBytes: 4,
    freeBytes: 6,
    files: 2,
    maxNameBytes: 1024,
    readOnly: 1,
    maxSegmentBytes: 255,
    partUploads: 3,
    partBytes: 5000,
  };
  const buf = encodeReply('STATFS', 3, reply);
  t.deepEqual(decodeReply('STATFS', buf), reply);
  t.is(buf.readUInt32LE(36), 1024);
  t.is(buf[40], 1);
  t.is(buf.readUInt32LE(41), 255);
  t.is(buf.readUInt32LE(45), 3);
  t.is(buf.length, 57);
});

test('replies that gained fields keep their earlier layout for requests without the extended-reply flag', (t) => {
  const statfs = {
    totalBytes: 10,
    usedBytes: 4,
    freeBytes: 6,
    files: 2,
    maxNameBytes: 1024,
    readOnly: 0,
    maxSegmentBytes: 255,
    partUploads: 3,
    partBytes: 5000,
  };
  const earlier = encodeReplyFor('STATFS', 0, 3, statfs);
  t.is(earlier.length, 45, 'a client from before gets the 45-byte reply it decodes');
  const { partUploads, partBytes, ...rest } = statfs;
  t.deepEqual(decodeReplyAnyLayout('STATFS', earlier), rest, 'the added fields are absent');
  const full = encodeReplyFor('STATFS', REQUEST_FLAG_EXTENDED_REPLY, 3, statfs);
  t.deepEqual(decodeReplyAnyLayout('STATFS', full), statfs);
  t.is(partUploads + partBytes, 5003);

  const open = { transferId: 1, sizeBytes: 100, mtimeMs: 5, mode: 0o750 };
  const openEarlier = encodeReplyFor('DOWNLOAD_OPEN', 0, 9, open);
  t.is(openEarlier.length, 28);
  t.is(decodeReplyAnyLayout('DOWNLOAD_OPEN', openEarlier).mode, undefined);
  const openFull = encodeReplyFor('DOWNLOAD_OPEN', REQUEST_FLAG_EXTENDED_REPLY, 9, open);
  t.is(openFull.readUInt32LE(28), 0o750);
  t.deepEqual(decodeReplyAnyLayout('DOWNLOAD_OPEN', openFull), open);
  const req = encodeRequest('DOWNLOAD_OPEN', 9, { name: 'a' }, REQUEST_FLAG_EXTENDED_REPLY);
  t.is(req[OFF_FLAGS], REQUEST_FLAG_EXTENDED_REPLY, 'the flag travels in the request header');
});

test('journal round-trips and any flipped byte makes it unreadable', (t) => {
  const rec = {
    kind: 1 as const,
    sizeBytes: 1 << 20,
    position: 16,
    sourceTag: 99n,
    blockBytes: 65536,
    fileMode: 0o600,
    bitmap: new Uint8Array([0xff, 0x0f]),
  };
  const buf = Buffer.alloc(100);
  const n = encodeJournal(rec, buf);
  const got = decodeJournal(buf.subarray(0, n));
  t.deepEqual({ ...got!, bitmap: new Uint8Array(got!.bitmap) }, rec);
  for (let i = 0; i < n; i++) {
    const copy = Buffer.from(buf.subarray(0, n));
    copy[i]! ^= 0x40;
    t.is(decodeJournal(copy), null, `byte ${i}`);
  }
  t.is(decodeJournal(buf.subarray(0, n - 1)), null);
});

test('discovery datagrams round-trip; junk decodes to null', (t) => {
  const d = { kind: 2 as const, port: 4242, nonce: 123n, flags: 1, name: 'box' };
  t.deepEqual(decodeDiscovery(encodeDiscovery(d)), d);
  t.is(decodeDiscovery(Buffer.from('hello world, not ferry')), null);
});
