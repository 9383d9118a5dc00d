import test from 'ava';
import { readFileSync } from 'node:fs';
import { MESSAGES, layoutsOf, type LayoutRow, type MessageName } from '../../../src/wire/transfer/index.js';

function describe(rows: LayoutRow[]): string {
  if (rows.length === 0) return 'empty';
  return rows
    .map((r) => (r.offset >= 0 ? `${r.offset}:${r.name} ${r.kind}` : `${r.name} ${r.kind}`))
    .join(', ');
}

test('docs/protocol.md "Transfer messages" lists every message with the layout the codec uses', (t) => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
  const at = doc.indexOf('## Transfer messages');
  t.true(at >= 0, 'the section exists');
  const section = doc.slice(at);
  for (const name of Object.keys(MESSAGES) as MessageName[]) {
    const l = layoutsOf(name);
    const row = `| \`0x${l.type.toString(16).padStart(2, '0')}\` | ${name} | ${describe(l.request.rows)} | ${describe(l.reply.rows)} |`;
    t.true(section.includes(row), `docs row for ${name} should read: ${row}`);
  }
});
