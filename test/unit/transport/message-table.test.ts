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
