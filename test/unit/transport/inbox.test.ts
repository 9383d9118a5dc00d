import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { PacketView, encodePacket } from '../../../src/wire/packet-codec.js';
import { PacketType } from '../../../src/wire/packet-layout.js';
import { Inbox, type CompleteMessage, type FragmentResult } from '../../../src/transport/udp/inbox.js';

test.before(async () => {
  await initChecksums();
});

/** Decodes a DATA record: fragment `index` of message `seq` (fragments of 10 bytes), or a whole one (count 1). */
function fragment(seq: number, index: number, count: number, length: number, fifoSeq = 0): PacketView {
  const offset = index * 10;
  const size = Math.min(10, length - offset);
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (offset + i) & 255;
  const view = new PacketView();
  const status = view.decode(
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      packetNumber: 1,
      payload,
      data: {
        messageSeq: seq,
        fifoSeq,
        messageLength: length,
        fragmentOffset: offset,
        fragmentIndex: index,
        fragmentCount: count,
      },
    }),
  );
  if (status !== 'ok') throw new Error(status);
  return view;
}

/** Hands the view's (only) record to the inbox, charged the whole datagram as the session does. */
function take(inbox: Inbox, view: PacketView): FragmentResult {
  return inbox.onRecord(view, view.buf.length);
}

function collect(inbox: Inbox, sync = true): CompleteMessage[] {
  const got: CompleteMessage[] = [];
  inbox.setDispatch((m) => {
    got.push({ ...m, payload: Buffer.from(m.payload) });
    return sync;
  });
  return got;
}

test('fragments in any order reassemble once; repeats are duplicates', (t) => {
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  const got = collect(inbox);
  t.is(take(inbox, fragment(1, 2, 3, 25)), 'accepted');
  t.is(take(inbox, fragment(1, 0, 3, 25)), 'accepted');
  t.is(take(inbox, fragment(1, 0, 3, 25)), 'duplicate');
  t.is(got.length, 0);
  t.is(take(inbox, fragment(1, 1, 3, 25)), 'accepted');
  t.is(got.length, 1);
  t.deepEqual(
    [...got[0]!.payload],
    Array.from({ length: 25 }, (_, i) => i),
  );
  t.is(take(inbox, fragment(1, 1, 3, 25)), 'duplicate', 'after delivery too');
  t.is(inbox.deliveredBelow, 2);
  t.is(inbox.usedBytes, 0);
});

test('FIFO messages are handed over in FIFO order, one at a time; unordered ones at once', (t) => {
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  const got = collect(inbox, false);
  take(inbox, fragment(3, 0, 1, 5, 2));
  take(inbox, fragment(4, 0, 1, 5, 0));
  t.deepEqual(
    got.map((m) => m.seq),
    [4],
    'FIFO 2 waits for FIFO 1',
  );
  take(inbox, fragment(1, 0, 1, 5, 1));
  t.deepEqual(
    got.map((m) => m.seq),
    [4, 1],
    'FIFO 1 starts; FIFO 2 waits for its handler',
  );
  inbox.onHandled(got[1]!);
  t.deepEqual(
    got.map((m) => m.seq),
    [4, 1, 3],
  );
});

test('the reassembly budget refuses new messages (unacked) but never the FIFO head', (t) => {
  const inbox = new Inbox(30, 1 << 20, () => {});
  collect(inbox, false);
  t.is(take(inbox, fragment(1, 0, 3, 25)), 'accepted');
  t.is(take(inbox, fragment(2, 0, 3, 25)), 'refused');
  t.is(take(inbox, fragment(3, 0, 3, 25, 1)), 'accepted', 'the next FIFO message may always start');
  t.is(inbox.windowPackets(10, 100), 0);
});

test('delivered ranges describe what the handler finished above the base', (t) => {
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  const got = collect(inbox, false);
  for (const seq of [1, 2, 3, 4, 5]) take(inbox, fragment(seq, 0, 1, 5));
  inbox.onHandled(got[1]!);
  inbox.onHandled(got[2]!);
  inbox.onHandled(got[4]!);
  const starts = new Float64Array(16);
  const lengths = new Uint32Array(16);
  t.is(inbox.deliveredBelow, 1);
  t.is(inbox.deliveredRanges(starts, lengths, 16), 2);
  t.deepEqual([starts[0], lengths[0], starts[1], lengths[1]], [2, 2, 5, 1]);
  inbox.onHandled(got[0]!);
  t.is(inbox.deliveredBelow, 4);
});

test('fragments inconsistent with the first one of their message are refused', (t) => {
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  collect(inbox);
  take(inbox, fragment(1, 0, 3, 25));
  t.is(take(inbox, fragment(1, 1, 4, 35)), 'refused');
  t.is(take(inbox, fragment(1 + 16_384, 0, 1, 5)), 'refused', 'beyond the message window');
});

test('across the 2^32 wrap: records expand to full sequences, FIFO order holds, duplicates stay duplicates', (t) => {
  const TWO_32 = 2 ** 32;
  const inbox = new Inbox(1 << 20, 1 << 20, () => {});
  // where an inbox is after 2^32 - 3 messages, 2^32 - 2 of them FIFO (no public way to get there)
  const fields = inbox as unknown as Record<string, number>;
  for (const [name, value] of Object.entries({
    base: TWO_32 - 2,
    highestSeq: TWO_32 - 3,
    nextFifo: TWO_32 - 1,
  })) {
    t.is(typeof fields[name], 'number', name);
    fields[name] = value;
  }
  const got = collect(inbox);
  // FIFO sequences 2^32 - 1, 2^32 + 1 (2^32 is skipped: its wire form 0 means unordered), 2^32 + 2
  t.is(take(inbox, fragment(TWO_32 + 2, 0, 1, 5, TWO_32 + 2)), 'accepted');
  t.is(take(inbox, fragment(TWO_32 + 1, 1, 3, 25)), 'accepted', 'a fragment of message 2^32 + 1');
  t.is(take(inbox, fragment(TWO_32, 0, 1, 5, TWO_32 + 1)), 'accepted', 'message 2^32: wire 0');
  t.is(take(inbox, fragment(TWO_32 - 1, 0, 1, 5)), 'accepted');
  t.deepEqual(
    got.map((m) => [m.seq, m.fifoSeq]),
    [[TWO_32 - 1, 0]],
    'the FIFO ones wait for FIFO 2^32 - 1',
  );
  t.is(take(inbox, fragment(TWO_32 - 2, 0, 1, 5, TWO_32 - 1)), 'accepted');
  t.deepEqual(
    got.map((m) => [m.seq, m.fifoSeq]),
    [
      [TWO_32 - 1, 0],
      [TWO_32 - 2, TWO_32 - 1],
      [TWO_32, TWO_32 + 1],
      [TWO_32 + 2, TWO_32 + 2],
    ],
  );
  t.is(inbox.deliveredBelow, TWO_32 + 1, 'message 2^32 + 1 is still being reassembled');
  t.is(take(inbox, fragment(TWO_32 + 1, 0, 3, 25)), 'accepted');
  t.is(take(inbox, fragment(TWO_32 + 1, 2, 3, 25)), 'accepted');
  t.deepEqual(got.at(-1)?.seq, TWO_32 + 1);
  t.deepEqual(
    [...got.at(-1)!.payload],
    Array.from({ length: 25 }, (_, i) => i),
  );
  t.is(inbox.deliveredBelow, TWO_32 + 3);
  t.is(take(inbox, fragment(TWO_32 - 1, 0, 1, 5)), 'duplicate', 'from before the wrap');
  t.is(take(inbox, fragment(TWO_32, 0, 1, 5, TWO_32 + 1)), 'duplicate');
  t.is(take(inbox, fragment(TWO_32 + 3 + 16_384, 0, 1, 5)), 'refused', 'beyond the window past the wrap');
  t.is(take(inbox, fragment(TWO_32 + 3, 0, 1, 5, TWO_32 + 3)), 'accepted', 'the next FIFO one');
  t.is(got.length, 6);
});
