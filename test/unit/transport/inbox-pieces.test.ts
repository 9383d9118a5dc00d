import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { PacketView, encodePacket } from '../../../src/wire/packet-codec.js';
import { PacketType, PIECE_UNIT_BYTES } from '../../../src/wire/packet-layout.js';
import { Inbox, type CompleteMessage, type FragmentResult } from '../../../src/transport/udp/inbox.js';

test.before(async () => {
  await initChecksums();
});

const CHUNK = 8000;
const LENGTH = 20_000; // fragments of 8000, 8000, 4000

function bytesOf(from: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (from + i) % 251;
  return b;
}

function decode(fields: Parameters<typeof encodePacket>[0]): PacketView {
  const view = new PacketView();
  const status = view.decode(encodePacket(fields));
  if (status !== 'ok') throw new Error(status);
  return view;
}

function whole(index: number): PacketView {
  const from = index * CHUNK;
  const length = Math.min(CHUNK, LENGTH - from);
  return decode({
    type: PacketType.DATA,
    connectionId: 1n,
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: LENGTH,
      fragmentOffset: from,
      fragmentIndex: index,
      fragmentCount: 3,
    },
    payload: bytesOf(from, length),
  });
}

function piece(index: number, p: number): PacketView {
  const fragFrom = index * CHUNK;
  const fragLength = Math.min(CHUNK, LENGTH - fragFrom);
  const from = fragFrom + p * PIECE_UNIT_BYTES;
  return decode({
    type: PacketType.DATA,
    connectionId: 1n,
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: LENGTH,
      fragmentOffset: from,
      fragmentIndex: index,
      fragmentCount: 3,
    },
    piece: { fragmentOffset: fragFrom, fragmentLength: fragLength },
    payload: bytesOf(from, Math.min(PIECE_UNIT_BYTES, fragFrom + fragLength - from)),
  });
}

/** Hands the view's (only) record to the inbox, charged the whole datagram as the session does. */
function take(inbox: Inbox, view: PacketView): FragmentResult {
  return inbox.onRecord(view, view.buf.length);
}

function setup(): { inbox: Inbox; got: CompleteMessage[] } {
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  const got: CompleteMessage[] = [];
  inbox.setDispatch((m) => {
    got.push({ ...m, payload: Buffer.from(m.payload) });
    return true;
  });
  return { inbox, got };
}

const PIECES_OF_8000 = Math.ceil(CHUNK / PIECE_UNIT_BYTES);

test('a fragment arriving as pieces (any order, duplicates) completes the message once, bytes intact', (t) => {
  const { inbox, got } = setup();
  t.is(take(inbox, whole(0)), 'accepted');
  const order = [...Array(PIECES_OF_8000).keys()].reverse();
  for (const p of order) {
    t.is(take(inbox, piece(1, p)), 'accepted');
    t.is(take(inbox, piece(1, p)), 'duplicate');
  }
  t.is(got.length, 0);
  for (let p = 0; p < Math.ceil(4000 / PIECE_UNIT_BYTES); p++) take(inbox, piece(2, p));
  t.is(got.length, 1);
  t.deepEqual(got[0]!.payload, bytesOf(0, LENGTH));
  t.is(take(inbox, piece(1, 0)), 'duplicate', 'after delivery');
  t.is(take(inbox, whole(1)), 'duplicate');
});

test('a late whole copy overlapping some pieces completes the fragment; later pieces are duplicates', (t) => {
  const { inbox, got } = setup();
  take(inbox, piece(0, 0));
  take(inbox, piece(0, 3));
  t.is(take(inbox, whole(0)), 'accepted');
  t.is(take(inbox, piece(0, 1)), 'duplicate');
  take(inbox, whole(1));
  take(inbox, whole(2));
  t.is(got.length, 1);
  t.deepEqual(got[0]!.payload, bytesOf(0, LENGTH));
});

test('a single-fragment message arriving as pieces, then its whole late copy: delivered once', (t) => {
  const { inbox, got } = setup();
  const view = (p: number | null): PacketView =>
    decode({
      type: PacketType.DATA,
      connectionId: 1n,
      data: {
        messageSeq: 1,
        fifoSeq: 0,
        messageLength: 3000,
        fragmentOffset: p === null ? 0 : p * PIECE_UNIT_BYTES,
        fragmentIndex: 0,
        fragmentCount: 1,
      },
      ...(p === null ? {} : { piece: { fragmentOffset: 0, fragmentLength: 3000 } }),
      payload:
        p === null
          ? bytesOf(0, 3000)
          : bytesOf(p * PIECE_UNIT_BYTES, Math.min(PIECE_UNIT_BYTES, 3000 - p * PIECE_UNIT_BYTES)),
    });
  t.is(take(inbox, view(0)), 'accepted');
  t.is(take(inbox, view(null)), 'accepted', 'the whole copy completes it');
  t.is(take(inbox, view(1)), 'duplicate');
  t.is(take(inbox, view(null)), 'duplicate');
  t.is(got.length, 1);
  t.deepEqual(got[0]!.payload, bytesOf(0, 3000));
});
