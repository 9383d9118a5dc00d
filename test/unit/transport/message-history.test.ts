import test from 'ava';
import { MessageHistory } from '../../../src/transport/message-history.js';
import type { MessageInfo } from '../../../src/transport/types.js';

const info = (messageId: number, state: MessageInfo['state'] = 'delivered'): MessageInfo => ({
  messageId,
  peerId: 'p',
  mode: 'unordered',
  sizeBytes: 1,
  state,
});

test('keeps at most the limit, always the newest half, and updates replace older entries', (t) => {
  const h = new MessageHistory(100);
  for (let id = 1; id <= 1000; id++) {
    h.set(info(id));
    t.true(h.size <= 100);
  }
  for (let id = 951; id <= 1000; id++) t.is(h.get(id)?.messageId, id);
  t.is(h.get(1), undefined);
  h.set(info(960, 'failed'));
  t.is(h.get(960)?.state, 'failed');
  const ids = [...h.values()].map((i) => i.messageId);
  t.is(new Set(ids).size, ids.length, 'each message listed once');
  t.true(ids.includes(960));
});

test('a message first kept as failed and later retired is listed once with its last state', (t) => {
  const h = new MessageHistory(8);
  h.set(info(1, 'failed'));
  for (let id = 2; id <= 4; id++) h.set(info(id));
  h.set(info(1, 'failed'));
  t.deepEqual([...h.values()].map((i) => i.messageId).sort(), [1, 2, 3, 4]);
});
