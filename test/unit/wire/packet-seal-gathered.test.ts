import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import {
  PacketView,
  encodePacket,
  sealGathered,
  bodyOffset,
  writeHeader,
  writeRecordHeader,
  writeSackRange,
} from '../../../src/wire/packet-codec.js';
import {
  HEADER_BYTES,
  PacketType,
  RECORD_HEADER_BYTES,
  SACK_RANGE_BYTES,
} from '../../../src/wire/packet-layout.js';

test.before(async () => {
  await initChecksums();
});

const SEED = Number(process.env.FERRY_TEST_SEED ?? Date.now() % 2 ** 31);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Gathered {
  header: Buffer;
  headerLength: number;
  slices: Buffer[];
  joined: Buffer;
}

/** A DATA packet built the way the send path builds it: header buffer + payload slices, sealed in pieces. */
function gathered(sackCount: number, payload: Buffer, cuts: number[]): Gathered {
  const header = Buffer.alloc(1500, 0xee); // a pool buffer: longer than the header
  const cumAck = 100;
  writeHeader(
    header,
    PacketType.DATA,
    0,
    sackCount,
    RECORD_HEADER_BYTES + payload.length,
    0x01020304,
    0x05060708,
    500,
    cumAck,
    90,
    64,
  );
  for (let i = 0; i < sackCount; i++) writeSackRange(header, i, cumAck, cumAck + 2 + i * 3, 1);
  const headerLength = writeRecordHeader(
    header,
    bodyOffset(sackCount),
    9,
    0,
    payload.length,
    payload.length,
    0,
    0,
    1,
  );
  const slices: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, payload.length]) {
    // each slice is a view into a separate buffer at an odd offset, like the pieces of a message
    const holder = Buffer.alloc(cut - at + 5, 0xaa);
    payload.copy(holder, 3, at, cut);
    slices.push(holder.subarray(3, 3 + cut - at));
    at = cut;
  }
  sealGathered(header, headerLength, slices, slices.length);
  const joined = Buffer.concat([header.subarray(0, headerLength), ...slices]);
  return { header, headerLength, slices, joined };
}

test('sealGathered gives the same datagram as encodePacket over the joined bytes, and it decodes', (t) => {
  const next = rng(SEED);
  const view = new PacketView();
  for (let round = 0; round < 200; round++) {
    const sackCount = round % 5;
    const length = 1 + Math.floor(next() * 1400);
    const payload = Buffer.alloc(length);
    for (let i = 0; i < length; i++) payload[i] = Math.floor(next() * 256);
    const cuts: number[] = [];
    let c = 0;
    while (cuts.length < 3) {
      c += Math.floor(next() * 500);
      if (c >= length) break;
      cuts.push(c);
    }
    const g = gathered(sackCount, payload, cuts);
    t.is(g.headerLength, HEADER_BYTES + RECORD_HEADER_BYTES + sackCount * SACK_RANGE_BYTES);
    const sack: [number, number][] = [];
    for (let i = 0; i < sackCount; i++) sack.push([100 + 2 + i * 3, 1]);
    const reference = encodePacket({
      type: PacketType.DATA,
      connectionId: 0x0102030405060708n,
      packetNumber: 500,
      cumulativeAck: 100,
      leastUnacked: 90,
      receiveWindow: 64,
      sack,
      data: {
        messageSeq: 9,
        fifoSeq: 0,
        messageLength: length,
        fragmentOffset: 0,
        fragmentIndex: 0,
        fragmentCount: 1,
      },
      payload,
    });
    if (!g.joined.equals(reference))
      return t.fail(`round ${round}: differs from encodePacket (FERRY_TEST_SEED=${SEED})`);
    if (view.decode(g.joined) !== 'ok')
      return t.fail(`round ${round}: does not decode (FERRY_TEST_SEED=${SEED})`);
    if (!view.recordData().equals(payload)) return t.fail(`round ${round}: payload differs`);
  }
  t.pass();
});

test('a datagram sealed in pieces with one byte changed in the header or in any slice is refused as badChecksum', (t) => {
  const next = rng(SEED + 1);
  const view = new PacketView();
  const payload = Buffer.alloc(1380);
  for (let i = 0; i < payload.length; i++) payload[i] = Math.floor(next() * 256);
  const g = gathered(2, payload, [100, 701]);
  t.is(view.decode(g.joined), 'ok');
  // every byte of the header except the checksum field itself (those 4 bytes change the stored sum),
  // and a spread of payload bytes in each of the three slices
  const positions: number[] = [];
  for (let i = 0; i < g.headerLength; i++) if (i < 44 || i >= 48) positions.push(i);
  for (const p of [0, 50, 99, 100, 400, 700, 701, 1000, 1379]) positions.push(g.headerLength + p);
  for (const p of positions) {
    const bad = Buffer.from(g.joined);
    bad[p] = bad[p]! ^ (1 + Math.floor(next() * 255));
    const status = view.decode(bad);
    // a change in the magic or version is caught before the checksum; everything else by it
    const expected = p < 2 ? 'malformed' : p === 2 ? 'badVersion' : 'badChecksum';
    if (status !== expected)
      return t.fail(`byte ${p}: ${status}, expected ${expected} (FERRY_TEST_SEED=${SEED})`);
  }
  t.pass();
});
