/**
 * DATA records that lie about their fragment: a piece claiming a short or huge fragment, a whole
 * fragment whose index and bytes disagree, a record claiming another cut of a message the inbox
 * already holds. None may be accepted, so a message is never delivered with bytes that never arrived.
 */
import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { LIMITS } from '../../../src/core/limits.js';
import { PacketView, encodePacket, type DecodeStatus } from '../../../src/wire/packet-codec.js';
import { DATA_OVERHEAD_BYTES, PacketType, PIECE_UNIT_BYTES } from '../../../src/wire/packet-layout.js';
import { Inbox, type CompleteMessage } from '../../../src/transport/udp/inbox.js';

test.before(async () => {
  await initChecksums();
});

const CHUNK = 8000;
const LENGTH = 20_000; // fragments 8000, 8000, 4000

interface Record {
  index: number;
  offset: number;
  length: number;
  count?: number;
  messageLength?: number;
  piece?: { fragmentOffset: number; fragmentLength: number };
}

function decode(r: Record): { status: DecodeStatus; view: PacketView } {
  const view = new PacketView();
  const status = view.decode(
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      data: {
        messageSeq: 1,
        fifoSeq: 0,
        messageLength: r.messageLength ?? LENGTH,
        fragmentOffset: r.offset,
        fragmentIndex: r.index,
        fragmentCount: r.count ?? 3,
      },
      ...(r.piece ? { piece: r.piece } : {}),
      payload: Buffer.alloc(r.length, 0xab),
    }),
  );
  return { status, view };
}

function setup(): { inbox: Inbox; got: CompleteMessage[] } {
  const inbox = new Inbox(64 * 1024 * 1024, 64 * 1024 * 1024, () => {});
  const got: CompleteMessage[] = [];
  inbox.setDispatch((m) => {
    got.push(m);
    return true;
  });
  return { inbox, got };
}

const wholeFragment = (index: number): Record => ({
  index,
  offset: index * CHUNK,
  length: Math.min(CHUNK, LENGTH - index * CHUNK),
});

test('honest fragments and pieces of an even cut decode', (t) => {
  for (const i of [0, 1, 2]) t.is(decode(wholeFragment(i)).status, 'ok', `fragment ${i}`);
  const piece = { fragmentOffset: CHUNK, fragmentLength: CHUNK };
  t.is(decode({ index: 1, offset: CHUNK + PIECE_UNIT_BYTES, length: PIECE_UNIT_BYTES, piece }).status, 'ok');
  const lastPiece = { fragmentOffset: 2 * CHUNK, fragmentLength: 4000 };
  t.is(decode({ index: 2, offset: 2 * CHUNK, length: PIECE_UNIT_BYTES, piece: lastPiece }).status, 'ok');
});

test('a piece claiming a 1120-byte fragment for an 8000-byte fragment is malformed', (t) => {
  const piece = { fragmentOffset: 0, fragmentLength: PIECE_UNIT_BYTES };
  t.is(decode({ index: 0, offset: 0, length: PIECE_UNIT_BYTES, piece }).status, 'malformed');
});

test('a piece header claiming a fragment larger than any packet can carry is malformed', (t) => {
  const big = 16 * 1024 * 1024;
  t.true(big > LIMITS.MAX_PACKET_BYTES - DATA_OVERHEAD_BYTES);
  const piece = { fragmentOffset: 0, fragmentLength: big };
  const r = { index: 0, offset: 0, length: PIECE_UNIT_BYTES, count: 1, messageLength: big, piece };
  t.is(decode(r).status, 'malformed', 'one 16 MiB fragment');
  t.is(decode({ ...r, count: 2, messageLength: 2 * big }).status, 'malformed', 'first of two');
});

test('whole fragments whose index and bytes disagree are malformed', (t) => {
  t.is(decode({ index: 1, offset: 0, length: CHUNK }).status, 'malformed', 'index 1 at offset 0');
  t.is(decode({ index: 0, offset: 0, length: 10 }).status, 'malformed', 'a short first fragment');
  t.is(
    decode({ index: 0, offset: 0, length: 6000 }).status,
    'malformed',
    'a cut that needs 4 fragments, not 3',
  );
  t.is(
    decode({ index: 2, offset: 2 * CHUNK, length: 3000 }).status,
    'malformed',
    'a last one short of the end',
  );
  t.is(decode({ index: 1, offset: 12_000, length: CHUNK }).status, 'malformed', 'a middle one off its place');
  t.is(
    decode({ index: 2, offset: 10_000, length: 10_000 }).status,
    'malformed',
    'a last one longer than the cut',
  );
});

test('a lying piece never completes a message with bytes that were never received', (t) => {
  const { inbox, got } = setup();
  const lie = decode({
    index: 0,
    offset: 0,
    length: PIECE_UNIT_BYTES,
    piece: { fragmentOffset: 0, fragmentLength: PIECE_UNIT_BYTES },
  });
  if (lie.status === 'ok') inbox.onRecord(lie.view, lie.view.buf.length);
  for (const i of [1, 2]) inbox.onRecord(decode(wholeFragment(i)).view, 0);
  t.is(got.length, 0, 'message delivered although bytes 1120..8000 never arrived');
});

test('a record claiming another cut than the one the inbox holds for its message is malformed', (t) => {
  const { inbox, got } = setup();
  t.is(inbox.onRecord(decode(wholeFragment(0)).view, 0), 'accepted');
  // fragment 2 of a cut at 6667 bytes (offset 13334, 6666 bytes): a valid cut alone, not this message's
  const other = decode({ index: 2, offset: 13_334, length: 6666 });
  t.is(other.status, 'ok');
  t.is(inbox.onRecord(other.view, 0), 'malformed');
  t.is(inbox.onRecord(decode(wholeFragment(1)).view, 0), 'accepted');
  t.is(got.length, 0, 'fragment 2 is still missing');
  t.is(inbox.onRecord(decode(wholeFragment(2)).view, 0), 'accepted');
  t.is(got.length, 1);
});
