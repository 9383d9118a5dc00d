import test from 'ava';
import { FerryError } from '../../../src/core/errors.js';
import { OutgoingMessage } from '../../../src/transport/outgoing-message.js';

function message(sizeBytes = 10): OutgoingMessage {
  return new OutgoingMessage(1, 'peer', 1, 0, 'unordered', [Buffer.alloc(sizeBytes, 7)], sizeBytes, 4, 0);
}

test('promises asked for after the outcome is known are already settled', async (t) => {
  const m = message();
  for (let i = 0; i < m.fragmentCount; i++) m.onFragmentAcked(i);
  m.markDelivered();
  await t.notThrowsAsync(m.received);
  await t.notThrowsAsync(m.delivered);
  t.is(m.received, m.received, 'the same promise every time');
});

test('promises asked for before the outcome settle with it', async (t) => {
  const m = message();
  const received = m.received;
  const delivered = m.delivered;
  for (let i = 0; i < m.fragmentCount; i++) m.onFragmentAcked(i);
  await t.notThrowsAsync(received);
  m.fail('PEER_DEAD', 'gone', true);
  const err = await t.throwsAsync(delivered);
  t.is((err as FerryError).code, 'PEER_DEAD');
  await t.notThrowsAsync(m.received, 'received stays resolved after a later failure');
});

test('a failure nobody looks at does not surface as an unhandled rejection; a late look sees it', async (t) => {
  const m = message();
  m.fail('MESSAGE_TIMEOUT', 'late', false);
  await new Promise((resolve) => setImmediate(resolve));
  const err = await t.throwsAsync(m.received);
  t.is((err as FerryError).code, 'MESSAGE_TIMEOUT');
  t.is(m.state, 'failed');
});

test('copyFragment copies each fragment from the pieces and returns its length', (t) => {
  const m = new OutgoingMessage(
    1,
    'p',
    1,
    0,
    'unordered',
    [Buffer.from('abc'), Buffer.from('defg')],
    7,
    3,
    0,
  );
  const out = Buffer.alloc(3);
  t.is(m.copyFragment(1, out, 0), 3);
  t.is(out.toString(), 'def');
  t.is(m.copyFragment(2, out, 0), 1);
  t.is(out.subarray(0, 1).toString(), 'g');
});

test('a timed-out message keeps a copy of its bytes: the caller may reuse its buffers', (t) => {
  const caller = Buffer.from('abcdefg');
  const m = new OutgoingMessage(
    1,
    'p',
    1,
    0,
    'unordered',
    [caller.subarray(0, 3), caller.subarray(3)],
    7,
    3,
    0,
  );
  t.is(m.fail('MESSAGE_TIMEOUT', 'late', false), 7, 'the copy is counted');
  caller.fill(0x78); // the promises failed: the caller may write its buffer again
  const out = Buffer.alloc(3);
  t.is(m.copyFragment(1, out, 0), 3);
  t.is(out.toString(), 'def');
  const slices: Uint8Array[] = [];
  t.is(m.fragmentSlices(2, slices, 8), 1);
  t.is(Buffer.from(slices[0]!).toString(), 'g');
});

test('once the bytes are let go, copies and slices refuse instead of leaving a hole', (t) => {
  for (const retired of ['received', 'failed'] as const) {
    const m = new OutgoingMessage(1, 'p', 1, 0, 'unordered', [Buffer.alloc(2048, 1)], 2048, 1024, 0);
    if (retired === 'received') m.markReceived();
    else m.fail('PEER_DEAD', 'gone', true);
    const out = Buffer.alloc(1024, 0x55);
    t.is(m.copyFragment(1, out, 0), -1, `copy after ${retired}`);
    t.is(m.copyRange(100, 10, out, 0), -1, `range after ${retired}`);
    t.true(
      out.every((b) => b === 0x55),
      'nothing written',
    );
    t.is(m.fragmentSlices(0, [], 8), -1, `slices after ${retired}`);
  }
});

test('a range past the end of the message is refused', (t) => {
  const m = message(10);
  t.is(m.copyRange(8, 4, Buffer.alloc(4), 0), -1);
  t.is(m.copyRange(8, 2, Buffer.alloc(4), 0), 2);
  t.is(m.copyRange(10, 0, Buffer.alloc(4), 0), 0);
});
