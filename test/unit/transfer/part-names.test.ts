/**
 * Part-file names are injective: a long name (hashed) and the short name spelling its hash never
 * share a part file, on the client (download part files beside the target) or on the server (upload
 * part files); the sweeper groups an upload's hidden files by one key whatever their form.
 */
import test from 'ava';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { downloadPartNames } from '../../../src/transfer/client/download-part.js';
import { downloadTempStem } from '../../../src/transfer/client/sources.js';
import { uploadFileOf, uploadNames } from '../../../src/transfer/names.js';

test.before(() => initChecksums());

test('a 250-byte download name and a file named after its 16-hex hash get different part files', (t) => {
  const long = 'x'.repeat(250);
  const hex = xxh64(Buffer.from(long, 'utf8')).toString(16).padStart(16, '0');
  t.not(downloadTempStem(long), downloadTempStem(hex));
  t.not(downloadPartNames(`/d/${long}`).part, downloadPartNames(`/d/${hex}`).part);
  // A short name that spells the hashed form is hashed too, so it cannot meet it either.
  const hashed = downloadTempStem(long);
  t.not(downloadTempStem(hashed), hashed);
  t.is(downloadTempStem('plain.txt'), 'plain.txt', 'short names keep their readable stem');
  t.true(Buffer.byteLength(`.${downloadTempStem(long)}.ferry-journal.tmp`) <= 255);
});

test('upload part names: hashed and mirrored forms never meet, and group by one key', (t) => {
  const long = `${'d/'.repeat(400)}${'y'.repeat(220)}`; // past MAX_NAME_BYTES once prefixed
  const a = uploadNames(long);
  t.true(a.part.startsWith('.ferry~h-'));
  const hex = a.part.slice('.ferry~h-'.length, -'.part'.length);
  for (const other of [hex, `h-${hex}.part`, `${hex}.part`]) {
    const b = uploadNames(other);
    t.not(a.part, b.part);
    t.not(a.journal, b.journal);
    t.not(uploadFileOf(a.part)!.key, uploadFileOf(b.part)!.key);
  }
  for (const n of [long, 'photos/a.jpg']) {
    const names = uploadNames(n);
    const keys = new Set([names.part, names.journal, names.journalTmp].map((x) => uploadFileOf(x)!.key));
    t.is(keys.size, 1, `one key for the files of ${n.slice(0, 20)}`);
  }
  t.is(uploadFileOf('photos/a.jpg'), null);
});
