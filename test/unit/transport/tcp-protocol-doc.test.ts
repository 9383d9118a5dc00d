import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  CloseReason,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_CONTROL_BODY_BYTES,
  MAX_DELIVERED_RANGES,
} from '../../../src/transport/tcp/frame-layout.js';
import { TCP_ONLY_SCHEMA } from '../../../src/transport/tcp/tcp-config.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## TCP transport'), doc.indexOf('## Transfer messages'));

test('docs/protocol.md has a TCP transport section before the transfer messages', (t) => {
  t.true(doc.indexOf('## TCP transport') > 0);
  t.true(section.length > 1000);
});

test('the TCP section lists every frame type and close reason with the numbers the code uses', (t) => {
  const types = Object.entries(FrameType)
    .map(([name, n]) => `${n} ${name}`)
    .join(', ');
  t.true(section.includes(types), types);
  const reasons = Object.entries(CloseReason)
    .map(([name, n]) => `${n} ${name.toLowerCase().replaceAll('_', ' ')}`)
    .join(', ');
  t.true(section.includes(reasons), reasons);
  t.true(section.includes(`a 16-byte header`) && FRAME_HEADER_BYTES === 16);
  t.true(section.includes(`1..${MAX_DELIVERED_RANGES} ranges`));
  t.true(section.includes(`others at most ${MAX_CONTROL_BODY_BYTES.toLocaleString('en').replace(',', ' ')}`));
});

test('the TCP section lists every TCP-only setting with its default', (t) => {
  for (const [key, s] of Object.entries(TCP_ONLY_SCHEMA)) {
    t.regex(
      section,
      new RegExp(
        `^\\| \`${key}\` \\| ${s.kind} \\| ${String(s.default)} \\| ${s.min}\\.\\.${s.max} \\| ${s.doc} \\|$`,
        'm',
      ),
      key,
    );
  }
});
