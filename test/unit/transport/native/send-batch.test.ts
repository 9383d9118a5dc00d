// SendBatch fills the descriptor words the addon reads, says when it is full, and keeps the unsent
// tail in order after a partial send.
import test from 'ava';

import { isFerryError } from '../../../../src/core/errors.js';
import { parseDestination } from '../../../../src/transport/native/address.js';
import { DESC, NATIVE_UDP_LIMITS } from '../../../../src/transport/native/native-limits.js';
import { SendBatch } from '../../../../src/transport/native/send-batch.js';

const S = NATIVE_UDP_LIMITS.DESC_STRIDE;
const to = parseDestination('127.0.0.1', 5000, 4);
const bufs = Array.from({ length: 20 }, (_, i) => new Uint8Array([i]));

test('add and append build per-datagram slice counts, destinations and segment sizes', (t) => {
  const b = new SendBatch(4);
  t.true(b.add(to, bufs[0]!));
  t.true(b.append(bufs[1]!));
  t.true(b.add(to, bufs[2]!, 1400));
  t.is(b.length, 2);
  t.is(b.sliceCount, 3);
  t.is(b.desc[DESC.SLICES], 2);
  t.is(b.desc[S + DESC.SLICES], 1);
  t.is(b.desc[S + DESC.SEGMENT], 1400);
  t.is(b.desc[DESC.PORT_FLAGS], 5000);
  t.deepEqual(b.slices, [bufs[0], bufs[1], bufs[2]]);
});

test('a full batch and a full datagram answer false instead of throwing', (t) => {
  const b = new SendBatch(1);
  t.true(b.add(to, bufs[0]!));
  t.false(b.add(to, bufs[1]!));
  for (let i = 1; i < NATIVE_UDP_LIMITS.MAX_SLICES_PER_DATAGRAM; i++) t.true(b.append(bufs[0]!));
  t.false(b.append(bufs[0]!));
  t.false(b.addv(to, [bufs[0]!]));
});

test('discard keeps the unsent datagrams in order', (t) => {
  const b = new SendBatch(8);
  for (let i = 0; i < 5; i++) {
    b.add(to, bufs[i * 2]!, i);
    b.append(bufs[i * 2 + 1]!);
  }
  b.discard(3);
  t.is(b.length, 2);
  t.is(b.sliceCount, 4);
  t.deepEqual(b.slices, [bufs[6], bufs[7], bufs[8], bufs[9]]);
  t.is(b.desc[DESC.SEGMENT], 3);
  t.is(b.desc[S + DESC.SEGMENT], 4);
  b.discard(5);
  t.is(b.length, 0);
  t.deepEqual(b.slices, []);
});

test('bad sizes are refused with INVALID_ARGUMENT', (t) => {
  t.true(
    isFerryError(
      t.throws(() => new SendBatch(0)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => new SendBatch(NATIVE_UDP_LIMITS.MAX_SEND_BATCH + 1)),
      'INVALID_ARGUMENT',
    ),
  );
  const b = new SendBatch(2);
  t.true(
    isFerryError(
      t.throws(() => b.append(bufs[0]!)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => b.add(to, bufs[0]!, -1)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => b.add(to, bufs[0]!, 70_000)),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => b.addv(to, [])),
      'INVALID_ARGUMENT',
    ),
  );
});
