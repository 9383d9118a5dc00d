import test from 'ava';
import fc from 'fast-check';
import { initChecksums, xxh32 } from '../../../src/core/checksum.js';
import { LIMITS } from '../../../src/core/limits.js';
import {
  PacketView,
  encodePacket,
  connectionIdOf,
  type PacketFields,
} from '../../../src/wire/packet-codec.js';
import {
  PacketType,
  HEADER_BYTES,
  CHECKSUM_OFFSET,
  RECORD_HEADER_BYTES,
  PIECE_UNIT_BYTES,
} from '../../../src/wire/packet-layout.js';
import { referenceDecode, type ReferencePacket } from './reference-decoder.js';

test.before(async () => {
  await initChecksums();
});

function viewToReference(v: PacketView): ReferencePacket {
  const sack: [number, number][] = [];
  for (let i = 0; i < v.sackCount; i++) sack.push([v.sackStart[i]!, v.sackLength[i]!]);
  const out: ReferencePacket = {
    type: v.type,
    flags: v.flags,
    connectionId: connectionIdOf(v),
    packetNumber: v.packetNumber,
    cumulativeAck: v.cumulativeAck,
    leastUnacked: v.leastUnacked,
    receiveWindow: v.receiveWindow,
    sack,
    payload: [...v.payload()],
  };
  if (v.type === PacketType.DATA) {
    out.records = [];
    for (let i = 0; i < v.recordCount; i++) {
      v.selectRecord(i);
      out.records.push({
        messageSeq: v.messageSeq,
        fifoSeq: v.fifoSeq,
        messageLength: v.messageLength,
        fragmentOffset: v.fragmentOffset,
        fragmentIndex: v.fragmentIndex,
        fragmentCount: v.fragmentCount,
        ...(v.isPiece
          ? { piece: { fragmentOffset: v.pieceFragmentOffset, fragmentLength: v.pieceFragmentLength } }
          : {}),
        bytes: [...v.recordData()],
      });
    }
  }
  return out;
}

/** Arbitrary valid packets (DATA and the header-only types). */
/** The last fragment (`length` bytes) of a message cut every `cut` bytes, about `before` bytes in. */
function lastFragment(
  before: number,
  length: number,
  cut: number,
): { messageLength: number; fragmentOffset: number; fragmentIndex: number; fragmentCount: number } {
  const index = 1 + Math.floor(before / cut);
  return {
    messageLength: index * cut + length,
    fragmentOffset: index * cut,
    fragmentIndex: index,
    fragmentCount: index + 1,
  };
}

const packetArb: fc.Arbitrary<PacketFields> = fc
  .record({
    type: fc.constantFrom(
      PacketType.DATA,
      PacketType.ACK,
      PacketType.HEARTBEAT,
      PacketType.CLOSE,
      PacketType.PROBE,
    ),
    connectionId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    packetNumber: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }),
    cumulativeAck: fc.integer({ min: 0, max: 2 ** 40 }),
    leastUnacked: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    receiveWindow: fc.integer({ min: 0, max: 0xffff_ffff }),
    gaps: fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })), {
      maxLength: LIMITS.MAX_SACK_RANGES,
    }),
    payload: fc.uint8Array({ maxLength: 1400 }),
    fifoSeq: fc.integer({ min: 0, max: 0xffff_ffff }),
    messageSeq: fc.integer({ min: 1, max: 0xffff_ffff }),
    extraBefore: fc.integer({ min: 0, max: 100_000 }),
    // whole messages coalesced behind the first record
    more: fc.array(
      fc.record({
        messageSeq: fc.integer({ min: 1, max: 0xffff_ffff }),
        fifoSeq: fc.integer({ min: 0, max: 0xffff_ffff }),
        bytes: fc.uint8Array({ maxLength: 100 }),
      }),
      { maxLength: 12 },
    ),
    firstKind: fc.constantFrom('whole', 'fragment', 'piece'),
  })
  .map((r) => {
    const sack: [number, number][] = [];
    let next = r.cumulativeAck + 1;
    for (const [gap, len] of r.gaps) {
      sack.push([next + gap, len]);
      next = next + gap + len;
    }
    const f: PacketFields = {
      type: r.type,
      connectionId: r.connectionId,
      packetNumber: r.packetNumber,
      cumulativeAck: r.cumulativeAck,
      leastUnacked: r.leastUnacked,
      receiveWindow: r.receiveWindow,
      sack,
      payload: r.payload,
    };
    if (r.type === PacketType.DATA) {
      const bytes = r.payload.length === 0 ? new Uint8Array([7]) : r.payload;
      const U = PIECE_UNIT_BYTES;
      const pieceBytes = bytes.subarray(0, Math.min(bytes.length, U));
      // a piece: the last one of a fragment that starts two units before it
      const first =
        r.firstKind === 'whole'
          ? { messageLength: bytes.length, fragmentOffset: 0, fragmentIndex: 0, fragmentCount: 1 }
          : r.firstKind === 'fragment'
            ? lastFragment(r.extraBefore, bytes.length, bytes.length + (r.extraBefore % 64))
            : {
                ...lastFragment(r.extraBefore, 2 * U + pieceBytes.length, 2 * U + pieceBytes.length),
                fragmentOffset:
                  lastFragment(r.extraBefore, 0, 2 * U + pieceBytes.length).fragmentOffset + 2 * U,
                piece: {
                  fragmentOffset: lastFragment(r.extraBefore, 0, 2 * U + pieceBytes.length).fragmentOffset,
                  fragmentLength: 2 * U + pieceBytes.length,
                },
              };
      delete f.payload;
      f.records = [
        {
          messageSeq: r.messageSeq,
          fifoSeq: r.fifoSeq,
          ...first,
          bytes: r.firstKind === 'piece' ? pieceBytes : bytes,
        },
        // whole messages may share a packet; a fragment or piece travels alone
        ...(r.firstKind !== 'whole'
          ? []
          : r.more.map((m) => ({
              ...m,
              messageLength: m.bytes.length,
              fragmentOffset: 0,
              fragmentIndex: 0,
              fragmentCount: 1,
            }))),
      ];
    }
    return f;
  });

test('round trip: encodePacket then PacketView.decode gives the same fields, as does the reference decoder', (t) => {
  const view = new PacketView();
  fc.assert(
    fc.property(packetArb, (f) => {
      const bytes = encodePacket(f);
      t.is(view.decode(bytes), 'ok');
      const fast = viewToReference(view);
      const slow = referenceDecode(bytes);
      t.deepEqual(fast, slow);
      t.is(fast.connectionId, f.connectionId);
      t.is(fast.packetNumber, f.packetNumber ?? 0);
      t.deepEqual(fast.sack, f.sack);
      if (f.records)
        t.deepEqual(
          fast.records,
          f.records.map((r) => ({ ...r, bytes: [...r.bytes] })),
        );
      else t.deepEqual(fast.payload, [...(f.payload ?? [])]);
    }),
    { numRuns: 500 },
  );
});

test('fast and reference decoders agree on the verdict for mutated packets', (t) => {
  const view = new PacketView();
  fc.assert(
    fc.property(
      packetArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      (f, flips) => {
        const bytes = encodePacket(f);
        for (const [pos, val] of flips) bytes[pos % bytes.length] = val;
        const fast = view.decode(bytes);
        const slow = referenceDecode(bytes);
        // The reference decoder checks the layout, not the semantic limits; when it rejects, so must the fast one.
        if (typeof slow === 'string') t.is(fast as string, slow);
        else if (fast === 'ok') t.deepEqual(viewToReference(view), slow);
      },
    ),
    { numRuns: 1000 },
  );
});

function dataPacket(over: Partial<NonNullable<PacketFields['data']>>, payloadBytes = 10): Buffer {
  return encodePacket({
    type: PacketType.DATA,
    connectionId: 1n,
    packetNumber: 5,
    payload: new Uint8Array(payloadBytes),
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: 100,
      fragmentOffset: 0,
      fragmentIndex: 0,
      fragmentCount: 10,
      ...over,
    },
  });
}

test('absurd counts and lengths are refused before anything is used', (t) => {
  const view = new PacketView();
  t.is(view.decode(dataPacket({})), 'ok');
  t.is(
    view.decode(dataPacket({ fragmentCount: LIMITS.MAX_FRAGMENTS + 1, messageLength: 2 ** 31 })),
    'malformed',
  );
  t.is(view.decode(dataPacket({ messageLength: LIMITS.MAX_MESSAGE_BYTES + 1 })), 'malformed');
  t.is(view.decode(dataPacket({ fragmentIndex: 10 })), 'malformed');
  t.is(view.decode(dataPacket({ fragmentCount: 0 })), 'malformed');
  t.is(view.decode(dataPacket({ fragmentOffset: 95 })), 'malformed');
  t.is(view.decode(dataPacket({ messageSeq: 0 })), 'ok', 'wire sequence 0: message 2^32 after the wrap');
  t.is(view.decode(dataPacket({ fragmentCount: 200 })), 'malformed', 'more fragments than bytes');
  t.is(view.decode(dataPacket({ fragmentCount: 1 }, 0)), 'ok', 'the empty message');
  t.is(view.messageLength, 0);
  t.is(view.decode(dataPacket({ fragmentOffset: 10 }, 0)), 'malformed', 'an empty fragment');
});

test('a DATA body is whole records: none, a torn one, unknown record flags and packet flags are refused', (t) => {
  const view = new PacketView();
  const whole = (n: number): Buffer =>
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      packetNumber: 5,
      records: Array.from({ length: n }, (_, i) => ({
        messageSeq: i + 1,
        fifoSeq: i % 2,
        messageLength: 3,
        fragmentOffset: 0,
        fragmentIndex: 0,
        fragmentCount: 1,
        bytes: new Uint8Array([i, i, i]),
      })),
    });
  t.is(view.decode(whole(3)), 'ok');
  t.is(view.recordCount, 3);
  view.selectRecord(1);
  t.deepEqual(
    [view.messageSeq, view.fifoSeq, view.messageLength, [...view.recordData()]],
    [2, 1, 3, [1, 1, 1]],
  );
  view.selectRecord(2);
  t.deepEqual(
    [view.messageSeq, view.fifoSeq, view.messageLength, [...view.recordData()]],
    [3, 0, 3, [2, 2, 2]],
  );
  t.is(view.decode(whole(0)), 'malformed', 'no record');
  t.is(view.decode(whole(LIMITS.MAX_RECORDS_PER_PACKET)), 'ok');
  t.is(view.decode(whole(LIMITS.MAX_RECORDS_PER_PACKET + 1)), 'malformed', 'more records than the limit');
  const edit = (mutate: (b: Buffer) => void): Buffer => {
    const b = whole(2);
    mutate(b);
    return encodeWithChecksum(b);
  };
  const second = HEADER_BYTES + RECORD_HEADER_BYTES + 3; // where record 2 starts
  t.is(view.decode(edit((b) => b.writeUInt16BE(4, second + 8))), 'malformed', 'a record past the end');
  t.is(view.decode(edit((b) => b.writeUInt16BE(2, second + 8))), 'malformed', 'bytes after the last record');
  t.is(view.decode(edit((b) => (b[second + 10] = 0x02))), 'malformed', 'unknown record flag');
  t.is(view.decode(edit((b) => (b[second + 11] = 1))), 'malformed', 'reserved byte set');
  t.is(view.decode(edit((b) => (b[4] = 0x02))), 'malformed', 'a packet flag on DATA');
  t.is(
    view.decode(edit((b) => b.writeUInt32BE(0, second))),
    'ok',
    'wire message sequence 0 (after the wrap)',
  );
  t.is(view.decode(edit(() => {})), 'ok');
});

test('wrong magic, version, checksum, length, type and flags are told apart', (t) => {
  const view = new PacketView();
  const good = encodePacket({ type: PacketType.HEARTBEAT, connectionId: 9n, packetNumber: 3 });
  t.is(view.decode(good), 'ok');
  t.is(view.decode(good.subarray(0, HEADER_BYTES - 1)), 'malformed');
  const reseal = (mutate: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    mutate(b);
    return encodeWithChecksum(b);
  };
  t.is(view.decode(reseal((b) => (b[0] = 0))), 'malformed');
  t.is(view.decode(reseal((b) => (b[2] = 1))), 'badVersion', 'version 1 (one fragment per packet)');
  t.is(view.decode(reseal((b) => (b[2] = 2))), 'badVersion', 'version 2 (PROBE and pieces, one record)');
  t.is(view.decode(reseal((b) => (b[3] = 42))), 'malformed');
  t.is(view.decode(reseal((b) => (b[4] = 0x80))), 'malformed');
  t.is(view.decode(reseal((b) => (b[5] = LIMITS.MAX_SACK_RANGES + 1))), 'malformed');
  t.is(view.decode(reseal((b) => b.writeUInt16BE(1, 6))), 'malformed', 'payload length beyond the datagram');
  t.is(view.decode(reseal((b) => b.writeUInt32BE(0xffff_ffff, 16))), 'malformed', 'packet number above 2^53');
  const flipped = Buffer.from(good);
  flipped[20]! ^= 1;
  t.is(view.decode(flipped), 'badChecksum');
});

test('a DATA piece must lie inside its fragment, on a unit boundary, full unless last', (t) => {
  const view = new PacketView();
  const U = PIECE_UNIT_BYTES;
  const piece = (
    fragOffset: number,
    fragLength: number,
    offset: number,
    bytes: number,
    messageLength = 100_000,
  ): Buffer =>
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      packetNumber: 1,
      data: {
        messageSeq: 1,
        fifoSeq: 0,
        messageLength,
        fragmentOffset: offset,
        fragmentIndex: 1,
        fragmentCount: 13,
      },
      piece: { fragmentOffset: fragOffset, fragmentLength: fragLength },
      payload: Buffer.alloc(bytes, 1),
    });
  t.is(view.decode(piece(8000, 8000, 8000, U)), 'ok', 'first piece');
  t.deepEqual([view.isPiece, view.pieceFragmentOffset, view.pieceFragmentLength], [true, 8000, 8000]);
  t.is(view.decode(piece(8000, 8000, 8000 + 7 * U, 8000 - 7 * U)), 'ok', 'last, shorter piece');
  t.is(view.decode(piece(8000, 8000, 8000 + U, U - 1)), 'malformed', 'short piece that is not last');
  t.is(view.decode(piece(8000, 8000, 8000 + 7 * U, 8000 - 7 * U + 1)), 'malformed', 'past the fragment');
  t.is(view.decode(piece(8000, 8000, 9001, U)), 'malformed', 'off a unit boundary');
  t.is(view.decode(piece(8000, 8000, 7000, U)), 'malformed', 'before the fragment');
  t.is(view.decode(piece(8000, 0, 8000, 0)), 'malformed', 'empty fragment');
  t.is(view.decode(piece(95_000, 8000, 95_000, U)), 'malformed', 'fragment past the message');
  t.is(view.decode(piece(9000, 8000, 9000, U)), 'malformed', 'fragment 1 not at 1 x its length');
  t.is(view.decode(piece(8000, U, 8000, U)), 'malformed', 'a cut of 1120 bytes needs more than 13 fragments');
  const solo = encodePacket({
    type: PacketType.DATA,
    connectionId: 1n,
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: 3000,
      fragmentOffset: U,
      fragmentIndex: 0,
      fragmentCount: 1,
    },
    piece: { fragmentOffset: 0, fragmentLength: 3000 },
    payload: Buffer.alloc(U, 2),
  });
  t.is(view.decode(solo), 'ok', 'a piece of a single-fragment message');
  t.is(view.fragmentCount, 1);
  const notFragment = Buffer.from(solo);
  notFragment[HEADER_BYTES + 10] = 0x02; // PIECE without FRAGMENT
  t.is(view.decode(encodeWithChecksum(notFragment)), 'malformed', 'PIECE without FRAGMENT');
});

test('SACK ranges must be ascending, disjoint and above the cumulative ack', (t) => {
  const view = new PacketView();
  const make = (sack: [number, number][]): Buffer =>
    encodePacket({ type: PacketType.ACK, connectionId: 1n, packetNumber: 1, cumulativeAck: 100, sack });
  t.is(
    view.decode(
      make([
        [102, 3],
        [110, 1],
      ]),
    ),
    'ok',
  );
  t.is(view.decode(make([[101, 3]])), 'malformed', 'a range starting right after the cumulative ack');
  t.is(
    view.decode(
      make([
        [102, 3],
        [105, 1],
      ]),
    ),
    'malformed',
    'adjacent ranges',
  );
  t.is(
    view.decode(
      make([
        [110, 3],
        [102, 1],
      ]),
    ),
    'malformed',
    'descending',
  );
  t.is(view.decode(make([[102, 0]])), 'malformed', 'empty range');
});

/** Recomputes the checksum of a hand-edited packet (so only the edit is tested). */
function encodeWithChecksum(b: Buffer): Buffer {
  b.writeUInt32BE(0, CHECKSUM_OFFSET);
  b.writeUInt32BE(xxh32(b), CHECKSUM_OFFSET);
  return b;
}
