import test from 'ava';
import { MessageTable } from '../../../src/transport/message-table.js';
import { OutgoingMessage } from '../../../src/transport/outgoing-message.js';

const message = (id: number): OutgoingMessage =>
  new OutgoingMessage(id, 'p', id, 0, 'unordered', [Buffer.alloc(1)], 1, 1000, 0);

test('finds messages by id; a finished one stays until a newer id needs its slot', (t) => {
  const table = new MessageTable(8);
  const msgs = Array.from({ length: 20 }, (_, i) => message(i + 1));
  for (const m of msgs.slice(0, 8)) table.add(m);
  t.is(table.liveCount, 8);
  for (const m of msgs.slice(0, 8)) {
    m.markDelivered();
    table.onFinished(m);
    table.onFinished(m); // a second report of the same end counts once
  }
  t.is(table.liveCount, 0);
  t.is(table.get(3)?.info().state, 'delivered');
  for (const m of msgs.slice(8, 12)) table.add(m);
  t.is(table.get(3), undefined, 'slot taken by message 11');
  t.is(table.get(5)?.messageId, 5, 'untouched slots keep their finished message');
  t.is(table.get(11)?.messageId, 11);
  t.is(table.get(99), undefined);
});

test('a message still in play is never forgotten when newer ids wrap the ring; it leaves when retired', (t) => {
  const table = new MessageTable(4);
  const msgs = Array.from({ length: 12 }, (_, i) => message(i + 1));
  for (const m of msgs) table.add(m);
  t.is(table.liveCount, 12);
  for (const m of msgs) t.is(table.get(m.messageId), m, `message ${m.messageId}`);
  t.is([...table.values()].length, 12);
  for (const m of msgs.slice(0, 8)) {
    m.fail('NOT_CONNECTED', undefined, true);
    table.onFinished(m);
  }
  t.is(table.liveCount, 4);
  t.is(table.get(1), undefined, 'a retired message pushed out of the ring is gone');
  t.deepEqual(
    [...table.values()].map((m) => m.messageId).sort((a, b) => a - b),
    [9, 10, 11, 12],
  );
});

// (moved from message-history.test.ts: the TCP endpoint now keeps its messages in this table too)
const finished = (id: number, state: 'delivered' | 'failed'): OutgoingMessage => {
  const m = message(id);
  if (state === 'delivered') m.markDelivered();
  else m.fail('MESSAGE_TIMEOUT', undefined, false);
  return m;
};

test('keeps at most the limit, always the newest half, and updates replace older entries', (t) => {
  const table = new MessageTable(100);
  for (let id = 1; id <= 1000; id++) {
    // message 960 is still in play when the others finish; it fails after the loop
    const m = id === 960 ? message(id) : finished(id, 'delivered');
    table.add(m);
    table.onFinished(m);
    t.true(table.size <= 100);
  }
  for (let id = 951; id <= 1000; id++) t.is(table.get(id)?.messageId, id);
  t.is(table.get(1), undefined);
  table.get(960)!.fail('MESSAGE_TIMEOUT', undefined, true);
  table.onFinished(table.get(960)!);
  t.is(table.get(960)?.info().state, 'failed');
  const ids = [...table.values()].map((m) => m.messageId);
  t.is(new Set(ids).size, ids.length, 'each message listed once');
  t.true(ids.includes(960));
});

test('a message first kept as failed and later retired is listed once with its last state', (t) => {
  const table = new MessageTable(8);
  const first = finished(1, 'failed');
  table.add(first);
  table.onFinished(first);
  for (let id = 2; id <= 4; id++) {
    const m = finished(id, 'delivered');
    table.add(m);
    table.onFinished(m);
  }
  first.fail('MESSAGE_TIMEOUT', undefined, true);
  table.onFinished(first);
  t.deepEqual(
    [...table.values()].map((m) => m.messageId).sort((a, b) => a - b),
    [1, 2, 3, 4],
  );
  t.is(table.get(1)?.info().state, 'failed');
  t.is(table.liveCount, 0);
});
